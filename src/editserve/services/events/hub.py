"""One event hub per API process: a single reader of the events table, fanned out in memory.

However many SSE streams and waiting sync edits an API process serves, one task reads
the events table (every key's events after the last id it read) and hands each event to
the subscriptions of its key. Store queries and CPU stay flat in the number of
subscribers; a subscriber costs a small buffer.

- **Waking the reader.** It waits on the store's hint for any key's events: a NOTIFY on
  PostgreSQL (other nodes' workers included), this process's own writes on SQLite; and
  polls every ``poll_seconds`` in any case (other processes on SQLite, a lost NOTIFY). It
  reads nothing while nobody is subscribed.
- **Replay, then live, without gaps or duplicates.** A subscription opens at the hub's
  cursor ``opened_at``: every event after it reaches the subscription's buffer. The
  subscriber first reads the table after its own start id (``Last-Event-ID``) until it
  has caught up (ids become visible in id order, so everything up to ``opened_at`` is
  there), then takes the buffer, skipping ids it already has (see EventFeed.follow).
- **A slow subscriber** whose buffer passes ``max_buffer`` events loses the buffer and is
  told so (``overflowed``): it reads the table again from its cursor, like a replay.
- **One reader per event loop.** A server has one loop; test clients that run each
  request on a loop of its own get a reader per loop, each stopped with its loop.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque

from anyio import to_thread

from editserve.domain.record import Event
from editserve.store import EventStore

log = logging.getLogger("editserve.events")

READ_BATCH = 500  # events per read of the table
MAX_BUFFER = 10_000  # events a subscription may hold before it must read the table itself


class Subscription:
    """One subscriber's view of one key's events; used on the hub's event loop only."""

    __slots__ = ("_buffer", "_max", "_waiter", "cursor", "opened_at", "overflowed", "owner")

    def __init__(self, owner: str, after: int, opened_at: int, max_buffer: int) -> None:
        self.owner = owner
        self.cursor = after  # the id of the last event the subscriber has
        self.opened_at = opened_at  # events after this id come through the buffer
        self.overflowed = False
        self._buffer: deque[Event] = deque()
        self._max = max_buffer
        self._waiter: asyncio.Future[None] | None = None

    def push(self, event: Event) -> None:
        if self.overflowed:
            return
        if len(self._buffer) >= self._max:
            self._buffer.clear()
            self.overflowed = True
        else:
            self._buffer.append(event)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self, timeout: float) -> list[Event]:
        """The buffered events after the cursor; waits up to timeout for some ([] if none)."""
        if not self._buffer and not self.overflowed and timeout > 0:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._waiter
            except TimeoutError:
                pass
            finally:
                self._waiter = None
        events = [event for event in self._buffer if event.id > self.cursor]
        self._buffer.clear()
        return events

    def resumed(self) -> None:
        """The subscriber read the table after an overflow: buffer again from now on."""
        self.overflowed = False


class _Reader:
    """The reader task and the subscriptions of one event loop."""

    def __init__(self, store: EventStore, poll_seconds: float, max_buffer: int) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self.max_buffer = max_buffer
        self.cursor = 0  # the last event id handed out
        self.subs: dict[str, set[Subscription]] = {}
        self._wanted = asyncio.Event()  # set while anyone is subscribed
        self._opening = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.reads = 0  # table reads so far (for tests and the benchmark)

    async def subscribe(self, owner: str, after: int | None) -> Subscription:
        async with self._opening:
            if self._task is None:
                self._task = asyncio.create_task(self._run(), name="editserve-event-hub")
            if not self.subs:  # idle until now: start from the table's end, not from the past
                last = await to_thread.run_sync(self.store.last_event_id)
                self.cursor = max(self.cursor, last)
            start = self.cursor if after is None else after
            sub = Subscription(owner, start, self.cursor, self.max_buffer)
            self.subs.setdefault(owner, set()).add(sub)
            self._wanted.set()
            return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self.subs.get(sub.owner)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.subs[sub.owner]
        if not self.subs:
            self._wanted.clear()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        failures = 0
        while True:
            await self._wanted.wait()
            try:
                read = self.store.events_after_any
                batch = await to_thread.run_sync(read, self.cursor, READ_BATCH)
                self.reads += 1
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the store is down: retry, keep subscribers
                failures += 1
                log.warning("event hub: reading events failed (%s); retrying", exc)
                await asyncio.sleep(min(self.poll_seconds * 2**failures, 5.0))
                continue
            self._dispatch(batch)
            if len(batch) < READ_BATCH:
                await self.store.wait_for_events(None, self.cursor, self.poll_seconds)

    def _dispatch(self, batch: list[Event]) -> None:
        for event in batch:
            if event.id <= self.cursor:
                continue
            self.cursor = event.id
            for sub in self.subs.get(event.owner, ()):
                sub.push(event)


class EventHub:
    """The API process's one reader of the events table (one per event loop, see above)."""

    def __init__(
        self, store: EventStore, *, poll_seconds: float, max_buffer: int = MAX_BUFFER
    ) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self.max_buffer = max_buffer
        self._readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Reader] = (
            weakref.WeakKeyDictionary()
        )

    def _reader(self) -> _Reader:
        loop = asyncio.get_running_loop()
        reader = self._readers.get(loop)
        if reader is None:
            reader = self._readers[loop] = _Reader(self.store, self.poll_seconds, self.max_buffer)
        return reader

    async def start(self) -> None:
        """Make this loop's reader ready (the app's lifespan); it reads once subscribed."""
        self._reader()

    async def stop(self) -> None:
        """Stop this loop's reader (the app's lifespan end)."""
        reader = self._readers.pop(asyncio.get_running_loop(), None)
        if reader is not None:
            await reader.stop()

    async def subscribe(self, owner: str, after: int | None = None) -> Subscription:
        """Follow owner's events after ``after`` (None: from now). The events after the
        subscription's ``opened_at`` arrive in its buffer; those before, the caller reads
        from the table (see EventFeed.follow). Call unsubscribe when done."""
        return await self._reader().subscribe(owner, after)

    def unsubscribe(self, sub: Subscription) -> None:
        self._reader().unsubscribe(sub)

    @property
    def reads(self) -> int:
        """Table reads of this loop's reader so far."""
        return self._reader().reads

    def subscribers(self) -> int:
        """Subscriptions open on this loop."""
        return sum(len(subs) for subs in self._reader().subs.values())


__all__ = ["EventHub", "Subscription"]
