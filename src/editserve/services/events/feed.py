"""Following a key's events: what SSE streams and what the sync edit waits on.

The events table is the truth (replay from any id, across processes and nodes). Live
events come from the API process's one event hub (``generations/hub.py``), which reads
the table once for every subscriber; a stream first replays the table after its start id,
then takes the hub's events, skipping ids it already sent, so nothing is lost or sent twice.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

from anyio import to_thread

from editserve.core.errors import GatewayTimeout
from editserve.core.settings import Settings
from editserve.domain.events import CANCELLED, COMPLETED
from editserve.domain.record import Event, Generation
from editserve.services.events.hub import READ_BATCH, EventHub, Subscription
from editserve.services.events.streams import StreamSlot, StreamSlots
from editserve.store import FeedStore

TERMINAL_EVENTS = (COMPLETED, CANCELLED)
# The hub polls the table at least this often (SQLite has no cross-process hint).
HUB_POLL_SECONDS = 0.025
# An idle stream checks at least this often whether its client went away.
DISCONNECT_CHECK_SECONDS = 1.0

IsDisconnected = Callable[[], Awaitable[bool]]


class EventFeed:
    def __init__(self, store: FeedStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.hub = EventHub(store, poll_seconds=min(settings.sse_poll_seconds, HUB_POLL_SECONDS))
        self.streams = StreamSlots(settings.max_event_streams_per_key)

    def open_stream(self, owner: str) -> StreamSlot:
        """A slot for one more event stream of ``owner`` on this process (429 when it has
        max_event_streams_per_key open); release it when the stream closes."""
        return self.streams.take(owner)

    async def start_id(self, owner: str, last_event_id: str | None) -> int:
        """Where a stream starts: after Last-Event-ID if given (replay), else from now."""
        if last_event_id is not None:
            try:
                return max(0, int(last_event_id.strip()))
            except ValueError:
                pass
        return await to_thread.run_sync(self.store.last_event_id, owner)

    async def follow(
        self, owner: str, after: int, is_disconnected: IsDisconnected
    ) -> AsyncIterator[Event | None]:
        """The owner's events after ``after``, as they come; None asks for a keep-alive."""
        sub = await self.hub.subscribe(owner, after)
        keepalive = self.settings.sse_keepalive_seconds
        try:
            async for event in self._replay(sub):
                yield event
            last_sent = time.monotonic()
            while True:
                if sub.overflowed:  # too slow for the hub: read the table again
                    sub.resumed()
                    async for event in self._replay(sub):
                        yield event
                        last_sent = time.monotonic()
                idle = time.monotonic() - last_sent
                batch = await sub.get(min(keepalive - idle, DISCONNECT_CHECK_SECONDS))
                for event in batch:
                    sub.cursor = event.id
                    yield event
                if batch:
                    last_sent = time.monotonic()
                    continue
                if time.monotonic() - last_sent >= keepalive:
                    yield None
                    last_sent = time.monotonic()
                if await is_disconnected():
                    return
        finally:
            self.hub.unsubscribe(sub)

    async def _replay(self, sub: Subscription) -> AsyncIterator[Event]:
        """The table's events of the subscription's key after its cursor, until caught up
        with the hub (ids become visible in order: all up to opened_at are there)."""
        while True:
            batch = await to_thread.run_sync(self.store.events_after, sub.owner, sub.cursor)
            for event in batch:
                sub.cursor = event.id
                yield event
            if len(batch) < READ_BATCH:
                return

    async def wait_until_terminal(self, gen: Generation, timeout: float) -> Generation:
        """The generation once it has ended; GatewayTimeout (504) after ``timeout``."""
        deadline = time.monotonic() + timeout
        sub = await self.hub.subscribe(gen.owner)  # from now: events after it are buffered
        try:
            while True:
                current = await to_thread.run_sync(self.store.get_generation, gen.id)
                assert current is not None, "generations are never deleted while awaited"
                if current.status.is_terminal:
                    return current
                if time.monotonic() >= deadline:
                    raise GatewayTimeout(
                        f"generation {gen.id} is still {current.status.value} after "
                        f"{timeout:g} s; poll GET /api/ai/queue/{gen.id} for the result",
                        extra={
                            "generation_id": gen.id,
                            "generation_status": current.status.value,
                        },
                    )
                await _until_it_ends(sub, gen, deadline)
        finally:
            self.hub.unsubscribe(sub)


async def _until_it_ends(sub: Subscription, gen: Generation, deadline: float) -> None:
    """Wait for the hub's event ending ``gen`` (or the deadline, or an overflow)."""
    while (left := deadline - time.monotonic()) > 0:
        if sub.overflowed:  # the buffer was dropped: look at the generation itself
            sub.resumed()
            return
        for event in await sub.get(left):
            sub.cursor = event.id
            if event.generation_id == gen.id and event.type in TERMINAL_EVENTS:
                return
