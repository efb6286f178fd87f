"""Wake-up hints for readers of the events table, shared by both dialects.

A store records here the events it learns of (SQLite: its own commits; PostgreSQL: the
NOTIFYs of every node); async readers wait for "owner has events after id N". Only a hint:
the events table stays the truth, and a reader that times out just reads it.
"""

from __future__ import annotations

import asyncio
import threading
from contextlib import suppress

# (owner or None for any, after id, its loop, its wake-up): one async wait_for_events
_Waiter = tuple[str | None, int, asyncio.AbstractEventLoop, asyncio.Event]


class EventHints:
    """Wakes async waiters when events are known to exist.

    Remembers the highest event id seen per owner (and over all), so a waiter asking after
    an event that was already seen returns at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str | None, int] = {}
        self._waiters: set[_Waiter] = set()

    def written(self, events: list[tuple[str, int]]) -> None:
        """These (owner, id) events are committed: wake whoever waits for them."""
        with self._lock:
            for owner, event_id in events:
                for key in (owner, None):
                    self._latest[key] = max(self._latest.get(key, 0), event_id)
            woken = [
                (loop, ev)
                for (who, after, loop, ev) in self._waiters
                if self._latest.get(who, 0) > after
            ]
        for loop, ev in woken:
            with suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(ev.set)

    async def wait(self, owner: str | None, after_id: int, timeout: float) -> bool:
        woken = asyncio.Event()
        entry = (owner, after_id, asyncio.get_running_loop(), woken)
        with self._lock:
            if self._latest.get(owner, 0) > after_id:
                return True
            self._waiters.add(entry)
        try:
            await asyncio.wait_for(woken.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(entry)
