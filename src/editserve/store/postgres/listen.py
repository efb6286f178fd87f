"""LISTEN on one PostgreSQL channel in a daemon thread, for wake-up hints.

Used for the event hints (``editserve_events``: SSE and the sync edit on every API node)
and the work hints (``editserve_work``: idle workers on every host). A hint is only a
hint: whoever waits on one also polls, so a lost connection costs latency, never data.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

log = logging.getLogger("editserve.store")


class Listener:
    """Calls ``on_payload`` with each NOTIFY payload of ``channel``; reconnects with backoff."""

    def __init__(self, conninfo: str, channel: str, on_payload: Callable[[str], None]) -> None:
        self._conninfo = conninfo
        self._channel = channel
        self._on_payload = on_payload
        self._stopping = threading.Event()
        self.listening = threading.Event()  # set while LISTEN is in effect
        self._thread = threading.Thread(target=self._run, name=f"listen-{channel}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {self._channel}")
                    self.listening.set()
                    backoff = 0.5
                    while not self._stopping.is_set():
                        for notify in conn.notifies(timeout=0.5):
                            self._on_payload(notify.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning(
                    "store: LISTEN %s failed (%s); falling back to polling", self._channel, exc
                )
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 30.0)


class WorkHints:
    """Idle workers' wake-up: set by a NOTIFY on the work channel (an enqueue anywhere)."""

    def __init__(self, conninfo: str, channel: str) -> None:
        self._woken = threading.Event()
        self._listener = Listener(conninfo, channel, lambda _payload: self._woken.set())

    def wait(self, timeout: float) -> bool:
        """True if work was announced since the last call (or within timeout)."""
        if not self._listener.listening.is_set():  # first use: hear what happens from now
            self._listener.listening.wait(min(timeout, 5.0))
        woken = self._woken.wait(timeout)
        self._woken.clear()
        return woken

    def stop(self) -> None:
        self._listener.stop()
