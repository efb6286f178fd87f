"""The event hub: one reader of the events table for every subscriber of an API process,
replay then live without gaps or duplicates, and the sync edit's wait on it."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from editserve.core.errors import GatewayTimeout
from editserve.core.settings import Settings
from editserve.domain.record import Event, Generation, Status
from editserve.services.events.feed import EventFeed
from editserve.services.events.hub import EventHub
from editserve.store.sqlite import SqliteStore

MODEL = "qwen-image-edit-plus"


def gen(owner: str) -> Generation:
    return Generation(
        id=str(uuid.uuid4()), owner=owner, model=MODEL, status=Status.QUEUED,
        params={"prompt": "p"}, inputs=[], batch_id=str(uuid.uuid4()), batch_index=0,
        seed=1, width=64, height=64, area=4096, enqueued_at=time.time(),
    )  # fmt: skip


class Counting:
    """The store, counting the statements its events are read with."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if name.startswith("events_after"):
            self.reads += 1
        return attr


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "db.sqlite")


def run_job(store: SqliteStore, owner: str, outcome: Status = Status.SUCCEEDED) -> Generation:
    """A generation enqueued, claimed and ended (a started and an ending event)."""
    item = gen(owner)
    store.insert_generations([item])
    claimed = store.claim("w1", [MODEL], 30, 3)
    assert claimed is not None and claimed.id == item.id
    store.finish(claimed, "w1", outcome, result_key="outputs/x.png")
    return item


def other_process(path: Path) -> SqliteStore:
    """A store object of its own: its writes reach the hub by polling, not by a hint."""
    return SqliteStore(path)


async def test_fan_out_by_key_with_one_reader_for_all_subscribers(
    store: SqliteStore, tmp_path: Path
) -> None:
    counting = Counting(store)
    hub = EventHub(counting, poll_seconds=0.02)  # type: ignore[arg-type]
    subs_a = [await hub.subscribe("key_a") for _ in range(50)]
    sub_b = await hub.subscribe("key_b")
    writer = other_process(tmp_path / "db.sqlite")
    await asyncio.to_thread(run_job, writer, "key_a")
    for sub in subs_a:  # each gets both events, once, in order
        events: list[Event] = []
        while len(events) < 2:
            events += await sub.get(5.0)
        assert [e.type for e in events] == [
            "media_generation_started",
            "media_generation_completed",
        ]
    assert await sub_b.get(0.1) == []  # another key's events never reach it
    reads_with_51 = counting.reads
    # 51 subscribers cost the store what one does: one reader, polling
    await asyncio.sleep(0.3)
    assert counting.reads - reads_with_51 < 0.3 / 0.02 + 5
    for sub in [*subs_a, sub_b]:
        hub.unsubscribe(sub)
    assert hub.subscribers() == 0
    await hub.stop()
    writer.close()


async def test_idle_hub_reads_nothing(store: SqliteStore) -> None:
    counting = Counting(store)
    hub = EventHub(counting, poll_seconds=0.01)  # type: ignore[arg-type]
    sub = await hub.subscribe("key_a")
    hub.unsubscribe(sub)
    await asyncio.sleep(0.05)
    before = counting.reads
    await asyncio.sleep(0.2)
    assert counting.reads - before <= 1
    await hub.stop()


async def test_replay_then_live_without_gaps_or_duplicates(
    store: SqliteStore, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, sse_keepalive_seconds=30.0)
    feed = EventFeed(store, settings)
    for _ in range(3):  # history to replay: 6 events
        run_job(store, "key_a")
    writer = other_process(tmp_path / "db.sqlite")
    received: list[Event] = []
    done = asyncio.Event()

    async def never() -> bool:
        return False

    async def follow() -> None:
        async for event in feed.follow("key_a", 0, never):
            if event is not None:
                received.append(event)
            if len(received) == 16:
                done.set()
                return

    task = asyncio.create_task(follow())
    # live events while the replay may still be reading: the hand-over must be exact
    for _ in range(5):
        await asyncio.to_thread(run_job, writer, "key_a")
    await asyncio.wait_for(done.wait(), 10)
    await task
    ids = [event.id for event in received]
    assert ids == sorted(set(ids)) and len(ids) == 16
    assert ids == [event.id for event in store.events_after("key_a", 0)]
    assert feed.hub.subscribers() == 0  # the stream's end unsubscribed it
    await feed.hub.stop()
    writer.close()


async def test_a_slow_subscriber_overflows_and_reads_the_table(
    store: SqliteStore, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, sse_keepalive_seconds=30.0)
    feed = EventFeed(store, settings)
    feed.hub = EventHub(store, poll_seconds=0.01, max_buffer=3)
    start = store.last_event_id("key_a")
    stream = feed.follow("key_a", start, _never)
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.05)  # subscribed, waiting
    for _ in range(4):  # 8 events: more than the buffer holds
        run_job(store, "key_a")
    events = [await asyncio.wait_for(first, 5)]
    while len(events) < 8:
        event = await asyncio.wait_for(stream.__anext__(), 5)
        if event is not None:
            events.append(event)
    assert [e.id for e in events] == [e.id for e in store.events_after("key_a", start)]
    await stream.aclose()
    await feed.hub.stop()


async def _never() -> bool:
    return False


async def test_wait_until_terminal_wakes_on_the_ending_event(
    store: SqliteStore, tmp_path: Path
) -> None:
    feed = EventFeed(store, Settings(data_dir=tmp_path))
    item = gen("key_a")
    store.insert_generations([item])
    waiting = asyncio.ensure_future(feed.wait_until_terminal(item, 10))
    await asyncio.sleep(0.05)
    writer = other_process(tmp_path / "db.sqlite")
    claimed = await asyncio.to_thread(writer.claim, "w1", [MODEL], 30, 3)
    assert claimed is not None
    await asyncio.to_thread(writer.finish, claimed, "w1", Status.FAILED, error_message="boom")
    done = await asyncio.wait_for(waiting, 5)
    assert done.status is Status.FAILED and done.error_message == "boom"
    assert feed.hub.subscribers() == 0
    with pytest.raises(GatewayTimeout):
        await feed.wait_until_terminal(gen_in(store, "key_a"), 0.1)
    await feed.hub.stop()
    writer.close()


def gen_in(store: SqliteStore, owner: str) -> Generation:
    item = gen(owner)
    store.insert_generations([item])
    return item
