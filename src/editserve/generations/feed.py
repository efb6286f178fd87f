"""Following a key's events: what SSE streams and what the sync edit waits on.

The events table is the truth (replay from any id, across processes and nodes); the
store's ``wait_for_events`` is only a wake-up hint (NOTIFY on PostgreSQL), and a short poll
guarantees progress where there is none.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

from anyio import to_thread

from editserve.config import Settings
from editserve.errors import GatewayTimeout
from editserve.generations.events import CANCELLED, COMPLETED
from editserve.generations.record import Event, Generation
from editserve.store import Store

TERMINAL_EVENTS = (COMPLETED, CANCELLED)

IsDisconnected = Callable[[], Awaitable[bool]]


class EventFeed:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def start_id(self, owner: str, last_event_id: str | None) -> int:
        """Where a stream starts: after Last-Event-ID if given (replay), else from now."""
        if last_event_id is not None:
            try:
                return max(0, int(last_event_id.strip()))
            except ValueError:
                pass
        return await to_thread.run_sync(self.store.last_event_id, owner)

    async def next_batch(self, owner: str, after: int) -> list[Event]:
        """The events after ``after``; if none yet, wait one poll interval (or a hint)."""
        batch = await to_thread.run_sync(self.store.events_after, owner, after)
        if not batch:
            await self.store.wait_for_events(owner, after, self.settings.sse_poll_seconds)
        return batch

    async def follow(
        self, owner: str, after: int, is_disconnected: IsDisconnected
    ) -> AsyncIterator[Event | None]:
        """The owner's events after ``after``, as they come; None asks for a keep-alive."""
        last_sent = time.monotonic()
        while True:
            batch = await to_thread.run_sync(self.store.events_after, owner, after)
            for event in batch:
                after = event.id
                yield event
                last_sent = time.monotonic()
            if batch:
                continue
            if time.monotonic() - last_sent >= self.settings.sse_keepalive_seconds:
                yield None
                last_sent = time.monotonic()
            if await is_disconnected():
                return
            await self.store.wait_for_events(owner, after, self.settings.sse_poll_seconds)

    async def wait_until_terminal(self, gen: Generation, timeout: float) -> Generation:
        """The generation once it has ended; GatewayTimeout (504) after ``timeout``."""
        deadline = time.monotonic() + timeout
        after = await to_thread.run_sync(self.store.last_event_id, gen.owner)
        while True:
            current = await to_thread.run_sync(self.store.get_generation, gen.id)
            assert current is not None, "generations are never deleted while awaited"
            if current.status.is_terminal:
                return current
            if time.monotonic() >= deadline:
                raise GatewayTimeout(
                    f"generation {gen.id} is still {current.status.value} after {timeout:g} s; "
                    f"poll GET /api/ai/queue/{gen.id} for the result",
                    extra={"generation_id": gen.id, "generation_status": current.status.value},
                )
            after = await self._until_it_ends(gen, after, deadline)

    async def _until_it_ends(self, gen: Generation, after: int, deadline: float) -> int:
        """Read the owner's events until one ends ``gen`` or the deadline passes."""
        while time.monotonic() < deadline:
            batch = await self.next_batch(gen.owner, after)
            for event in batch:
                after = event.id
                if event.generation_id == gen.id and event.type in TERMINAL_EVENTS:
                    return after
        return after
