"""Replay through the client (Last-Event-ID): from any id, the events after it, in id order,
none lost, none twice, then live ones; past one page of the table (READ_BATCH) too. The
real app in-process with a fake worker, the sync and the async client.

Each read has its own deadline (fixtures/streams.py): a replay that loses an event fails
here within seconds, naming what did arrive, instead of waiting for it forever on a stream
that only sends keep-alives (what `for event in client.events(...)` would do).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fixtures.inprocess_app import BASE, App, StreamingASGITransport, SyncASGITransport, png
from fixtures.streams import aread_events, read_events, stream_seconds

from editserve.client import AsyncClient, Client, Event
from editserve.domain.record import Event as StoredEvent
from editserve.services.events.hub import READ_BATCH


@pytest.fixture
def server(tmp_path: Path) -> App:
    return App(tmp_path)


@pytest.fixture
def client(server: App) -> Iterator[Client]:
    transport = SyncASGITransport(server.app)
    with Client(BASE, server.key, transport=transport, timeout=10) as client:
        yield client
    transport.close()


def history(server: App, client: Client) -> list[StoredEvent]:
    """Two generations: one run to success (started, progress, completed), one cancelled;
    the key's events as the table holds them."""
    [done, cancelled] = client.queue.submit(prompt="hat", input_image=png(), num_generations=2)
    server.run_worker(steps=3, delay=0.01).join(10)
    client.queue.cancel(cancelled)
    assert client.queue.get(done).succeeded
    return table(server, done.generation_id)


def table(server: App, generation_id: str) -> list[StoredEvent]:
    store = server.services.store
    gen = store.get_generation(generation_id)
    assert gen is not None
    events: list[StoredEvent] = []
    while batch := store.events_after(gen.owner, events[-1].id if events else 0):
        events += batch
    return events


def at_least(count: int) -> Callable[[list[Event]], bool]:
    return lambda seen: len(seen) >= count


def ids(events: list[Event]) -> list[int]:
    return [int(e.id or 0) for e in events]


def test_replay_from_every_id_gives_exactly_the_events_after_it(
    server: App, client: Client
) -> None:
    truth = history(server, client)
    assert len(truth) >= 6
    for index in (0, 1, len(truth) // 2, len(truth) - 1):
        after = 0 if index == 0 else truth[index - 1].id
        want = [e.id for e in truth[index:]]
        got = read_events(client, at_least(len(want)), after=after)
        assert ids(got) == want, f"replay after {after}"
        assert [e.type for e in got] == [e.type for e in truth[index:]]


def test_replay_then_live_events_without_a_gap_or_a_duplicate(server: App, client: Client) -> None:
    truth = history(server, client)
    [gen] = client.queue.submit(prompt="hat", input_image=png())
    worker = server.run_worker(steps=4, delay=0.1)  # live while the stream replays

    def ended(seen: list[Event]) -> bool:
        return any(e.generation_id == gen.generation_id and e.is_terminal for e in seen)

    got = read_events(client, ended, after=0)
    worker.join(10)
    assert ids(got) == sorted(set(ids(got)))  # in order, none twice
    assert ids(got) == [e.id for e in table(server, gen.generation_id)][: len(got)]
    assert ids(got)[: len(truth)] == [e.id for e in truth]


def test_replay_of_more_than_one_page_of_the_table(server: App, client: Client) -> None:
    [gen] = client.queue.submit(prompt="hat", input_image=png())
    worker = server.worker
    claimed = worker.claim()
    assert claimed is not None
    total = READ_BATCH + 20
    for step in range(1, total + 1):
        worker.progress(claimed, step, total)
    truth = table(server, gen.generation_id)
    assert len(truth) > READ_BATCH
    got = read_events(client, lambda seen: len(seen) >= len(truth), after=0, timeout=20)
    assert ids(got) == [e.id for e in truth]


async def test_the_async_client_replays_the_same(server: App, client: Client) -> None:
    truth = history(server, client)
    async with AsyncClient(
        BASE, server.key, transport=StreamingASGITransport(server.app), timeout=10
    ) as aclient:
        got = await aread_events(aclient, lambda seen: len(seen) >= len(truth), after=0)
        assert ids(got) == [e.id for e in truth]
        middle = truth[len(truth) // 2]
        rest = await aread_events(
            aclient, lambda seen: len(seen) >= len(truth) - len(truth) // 2 - 1, after=middle.id
        )
        assert ids(rest) == [e.id for e in truth if e.id > middle.id]


def test_a_replay_that_loses_events_fails_in_seconds(
    server: App, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deadline works: a server that ignores Last-Event-ID (streams from now) fails
    the read within its own bound, not at the suite's timeout."""
    truth = history(server, client)
    feed = server.services.generations.feed
    real = feed.start_id

    async def from_now(owner: str, last_event_id: str | None) -> int:
        return await real(owner, None)

    monkeypatch.setattr(feed, "start_id", from_now)
    began = time.monotonic()
    with pytest.raises(AssertionError, match=r"stream: not there within 2 s; got \[\]"):
        read_events(client, lambda seen: len(seen) >= len(truth), after=0, timeout=2)
    assert time.monotonic() - began < 10


def test_this_module_runs_under_the_short_stream_deadline(request: pytest.FixtureRequest) -> None:
    """The rule of tests/conftest.py gave the stream tests here their short timeout."""
    for item in request.session.items:
        if item.module is request.module and item.name.startswith("test_replay"):  # type: ignore[attr-defined]
            marker = item.get_closest_marker("timeout")
            assert marker is not None, item.nodeid
            assert marker.args[0] <= 60 and marker.kwargs == {"func_only": True}
            assert stream_seconds(item) == 30
