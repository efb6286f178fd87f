"""The dispatcher under abuse: a receiver that dribbles its answer (a tar pit) is cut off at
the attempt's deadline and holds up no other key's deliveries; deliveries run in a bounded
pool (node-wide, per key, per host); a delivery in flight is never claimed by another node;
stopping gives back what was in flight; every request goes through the SSRF guard.

Receivers are asyncio servers on loopback in the test's own event loop. Bounds are stated
against the configured deadline (``DEADLINE``), not as wall-clock constants.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fixtures.store import make_gen

from editserve.core.settings import Settings
from editserve.domain.record import Status
from editserve.services.webhooks.dispatcher import WebhookDispatcher
from editserve.services.webhooks.pool import host_of, url_prefixes
from editserve.store.rows import ApiKeyRow, DeliveryRow, DeliveryStatus
from editserve.store.sqlite import SqliteStore

DEADLINE = 3.0  # webhook_timeout_seconds: longer than the tar pit's pause between bytes
DRIBBLE_SECONDS = 1.0  # the tar pit's pace: one byte a second (no per-read timeout fires)

pytestmark = pytest.mark.timeout(60)


class Tracker:
    """Requests open at once across receivers, by the host they were sent to (the Host
    header's name) and by the key whose generation they report; the peaks of each."""

    def __init__(self, owners: dict[str, str]) -> None:
        self.owners = owners  # generation id -> key
        self.open: list[tuple[str, str]] = []  # (host, key)
        self.peak_hosts: Counter[str] = Counter()
        self.peak_owners: Counter[str] = Counter()
        self.peak = 0

    def opened(self, host: str, generation_id: str) -> tuple[str, str]:
        entry = (host, self.owners[generation_id])
        self.open.append(entry)
        self.peak = max(self.peak, len(self.open))
        for counts, peaks in (
            (Counter(h for h, _ in self.open), self.peak_hosts),
            (Counter(o for _, o in self.open), self.peak_owners),
        ):
            for name, n in counts.items():
                peaks[name] = max(peaks[name], n)
        return entry


class Receiver:
    """An HTTP/1.1 receiver on loopback: records each request's arrival, then answers 200
    at once, holds the answer until ``release`` is set, or (a tar pit) dribbles a never
    ending answer one byte a second."""

    def __init__(
        self, *, tarpit: bool = False, hold: bool = False, tracker: Tracker | None = None
    ) -> None:
        self.tarpit, self.hold, self.tracker = tarpit, hold, tracker
        self.release = asyncio.Event()
        self.arrivals: list[tuple[float, str]] = []  # (monotonic time, webhook-id)
        self.open = 0
        self.url = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        self.release.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        tracked: tuple[str, str] | None = None
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            length = int(re.search(r"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            body = json.loads(await reader.readexactly(length))
            found = re.search(r"(?i)webhook-id: *(\S+)", head)
            self.arrivals.append((time.monotonic(), found.group(1) if found else ""))
            if self.tracker is not None:
                host = re.search(r"(?i)\nhost: *([^:\r]+)", head).group(1)  # type: ignore[union-attr]
                tracked = self.tracker.opened(host, body["data"]["generation_id"])
            if self.tarpit:
                answer = b"HTTP/1.1 200 OK\r\nX-Tar: " + b"p" * 10_000
                for byte in answer:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(DRIBBLE_SECONDS)
            if self.hold:
                await self.release.wait()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            if tracked is not None and self.tracker is not None:
                self.tracker.open.remove(tracked)
            writer.close()


@pytest.fixture
async def receivers() -> AsyncIterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        await receiver.stop()


async def receiver(made: list[Receiver], **kwargs: Any) -> Receiver:
    made.append(await Receiver(**kwargs).start())
    return made[-1]


def make_store(tmp_path: Path, owners: list[str]) -> SqliteStore:
    store = SqliteStore(tmp_path / "store.db")
    for owner in owners:
        store.insert_key(ApiKeyRow(owner, owner, f"es_{owner}", f"hash-{owner}", time.time()))
    return store


def delivery_to(store: SqliteStore, owner: str, url: str) -> str:
    """A generation of ``owner`` cancelled while queued: one completed delivery to ``url``;
    returns the generation id."""
    gen = make_gen(owner, webhook=url, webhook_events=["completed"])
    store.insert_generations([gen])
    store.request_cancel(gen.id, owner)
    return gen.id


def the_delivery(store: SqliteStore, generation_id: str) -> DeliveryRow:
    [row] = store.deliveries_of([generation_id])[generation_id]
    return row


def dispatcher(store: SqliteStore, tmp_path: Path, **limits: Any) -> WebhookDispatcher:
    settings = Settings(
        data_dir=tmp_path,
        fetch_allow_hosts=limits.pop("fetch_allow_hosts", ["127.0.0.1"]),
        webhook_timeout_seconds=DEADLINE,
        webhook_poll_seconds=0.05,
        **limits,
    )
    return WebhookDispatcher(settings, store, lambda key: f"http://node.test/files/{key}")


@contextlib.asynccontextmanager
async def running(sender: WebhookDispatcher) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, DEADLINE)


async def until(condition: Any, limit: float) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_tar_pit_holds_up_no_other_keys_delivery(
    tmp_path: Path, receivers: list[Receiver]
) -> None:
    pit, fine = await receiver(receivers, tarpit=True), await receiver(receivers)
    store = make_store(tmp_path, ["key_a", "key_b"])
    stuck = [delivery_to(store, "key_a", pit.url) for _ in range(8)]
    # another host (the loopback's name): keys whose receivers share a host share its cap
    fine_url = fine.url.replace("127.0.0.1", "localhost")
    sender = dispatcher(store, tmp_path, fetch_allow_hosts=["127.0.0.1", "localhost"])
    per_owner = sender.settings.webhook_per_owner
    began = time.monotonic()
    async with running(sender):
        await until(lambda: len(pit.arrivals) >= per_owner, DEADLINE)  # A's are stuck there
        falls_due = time.monotonic()
        wanted = await asyncio.to_thread(delivery_to, store, "key_b", fine_url)
        await until(lambda: fine.arrivals, DEADLINE)
        landed = fine.arrivals[0][0]
        await until(lambda: the_delivery(store, stuck[0]).attempts >= 1, 3 * DEADLINE)
        cut_off = time.monotonic()
    assert landed - falls_due < DEADLINE  # within one attempt's deadline of falling due
    assert landed < cut_off and cut_off - began >= DEADLINE  # before a tar-pit attempt ended
    assert the_delivery(store, wanted).status is DeliveryStatus.DELIVERED
    # The key's cap: what reached the tar pit before any attempt could have ended (each
    # began after `began`) was in flight at once: webhook_per_owner of its 8 deliveries.
    at_once = [t for t, _ in pit.arrivals if t < began + DEADLINE]
    assert len(at_once) == per_owner


async def test_an_attempt_ends_at_its_deadline_however_the_answer_dribbles(
    tmp_path: Path, receivers: list[Receiver]
) -> None:
    pit = await receiver(receivers, tarpit=True)
    store = make_store(tmp_path, ["key_a"])
    generation_id = delivery_to(store, "key_a", pit.url)
    sender = dispatcher(store, tmp_path)
    began = time.monotonic()
    assert await asyncio.wait_for(sender.run_once(), 2 * DEADLINE) == 1
    took = time.monotonic() - began
    row = the_delivery(store, generation_id)
    assert row.status is DeliveryStatus.PENDING and row.attempts == 1
    assert row.last_error is not None and "DeliveryTimeout" in row.last_error, row.last_error
    assert DEADLINE <= took < DEADLINE + 2 * DRIBBLE_SECONDS
    assert row.lease_expires_at is None and row.next_attempt_at > time.time()  # retried later


async def test_a_delivery_in_flight_is_never_claimed_by_another_node(
    tmp_path: Path, receivers: list[Receiver]
) -> None:
    pit = await receiver(receivers, tarpit=True)
    store = make_store(tmp_path, ["key_a"])
    generation_id = delivery_to(store, "key_a", pit.url)
    sender = dispatcher(store, tmp_path)
    assert sender.lease_seconds > DEADLINE
    other_node = SqliteStore(tmp_path / "store.db")
    async with running(sender):
        await until(lambda: pit.arrivals, DEADLINE)
        while the_delivery(store, generation_id).attempts == 0:  # in flight, to its end
            assert other_node.claim_deliveries(10, 0.01) == []
            await asyncio.sleep(0.1)


async def test_the_pool_holds_its_caps_node_wide_per_key_and_per_host(
    tmp_path: Path, receivers: list[Receiver]
) -> None:
    owners: dict[str, str] = {}
    tracker = Tracker(owners)
    held = [await receiver(receivers, hold=True, tracker=tracker) for _ in range(3)]
    # two hosts: each receiver by its address and by the loopback's name
    urls = [r.url for r in held] + [r.url.replace("127.0.0.1", "localhost") for r in held]
    store = make_store(tmp_path, [f"key_{n}" for n in range(4)])
    for n in range(4):
        for url in urls:
            owners[delivery_to(store, f"key_{n}", url)] = f"key_{n}"
    sender = dispatcher(
        store,
        tmp_path,
        fetch_allow_hosts=["127.0.0.1", "localhost"],
        webhook_concurrency=5,
        webhook_per_owner=2,
        webhook_per_host=3,
    )
    async with running(sender):
        await until(lambda: len(tracker.open) == 5, DEADLINE)
        await asyncio.sleep(0.3)  # the loop would have started a sixth by now
        assert len(tracker.open) == 5
        for r in held:  # now every request is answered: the rest flow through the caps
            r.release.set()
        await until(lambda: sum(len(r.arrivals) for r in held) == len(owners), DEADLINE)
    assert tracker.peak == 5  # node-wide
    assert max(tracker.peak_owners.values()) == 2
    assert max(tracker.peak_hosts.values()) == 3
    assert sum(len(r.arrivals) for r in held) == len(owners)


async def test_stopping_gives_back_what_was_in_flight(
    tmp_path: Path, receivers: list[Receiver]
) -> None:
    pit = await receiver(receivers, tarpit=True)
    store = make_store(tmp_path, ["key_a"])
    generation_id = delivery_to(store, "key_a", pit.url)
    sender = dispatcher(store, tmp_path)
    async with running(sender) as stop:
        await until(lambda: pit.arrivals, DEADLINE)
        stop.set()
        stopped = time.monotonic()
    assert time.monotonic() - stopped < DEADLINE / 2  # not held up by the tar pit
    row = the_delivery(store, generation_id)
    assert row.attempts == 0 and row.lease_expires_at is None  # due again for any node
    [again] = SqliteStore(tmp_path / "store.db").claim_deliveries(10, 30.0)
    assert again.generation_id == generation_id


async def test_a_generations_deliveries_stay_in_order_in_the_running_loop(
    tmp_path: Path, receivers: list[Receiver]
) -> None:
    slow = await receiver(receivers, hold=True)
    store = make_store(tmp_path, ["key_a"])
    gen = make_gen("key_a", webhook=slow.url, webhook_events=["start", "completed"])
    store.insert_generations([gen])
    [claimed] = store.claim_batch("w1", ["qwen-image-edit-plus"], 30, 3, 1)
    store.finish(claimed, "w1", Status.SUCCEEDED, result_key="outputs/x.png")
    sender = dispatcher(store, tmp_path)
    async with running(sender):
        await until(lambda: slow.arrivals, DEADLINE)
        await asyncio.sleep(0.3)  # the completed one is due too: it waits for the started one
        assert len(slow.arrivals) == 1 and slow.open == 1
        slow.release.set()
        await until(lambda: len(slow.arrivals) == 2, DEADLINE)
    started, completed = store.deliveries_of([gen.id])[gen.id]
    assert [slow.arrivals[0][1], slow.arrivals[1][1]] == [started.id, completed.id]


async def test_deliveries_go_through_the_ssrf_guard(
    tmp_path: Path, receivers: list[Receiver]
) -> None:
    """A row already in the outbox (its URL passed at enqueue, or the allow-list changed
    since) to a loopback address is refused when it is sent, not only when it was checked."""
    target = await receiver(receivers)
    store = make_store(tmp_path, ["key_a"])
    generation_id = delivery_to(store, "key_a", target.url)
    sender = dispatcher(store, tmp_path, fetch_allow_hosts=[])
    assert await asyncio.wait_for(sender.run_once(), 2 * DEADLINE) == 1
    assert target.arrivals == []
    row = the_delivery(store, generation_id)
    assert row.last_error is not None and "ForbiddenAddress" in row.last_error, row.last_error
    assert "loopback" in row.last_error and row.status is DeliveryStatus.PENDING


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://Hooks.Example/a", "hooks.example"),
        ("http://hooks.example:8080/a?b", "hooks.example"),
        ("http://hooks.example./a", "hooks.example"),
        ("http://user@hooks.example", "hooks.example"),
        ("http://[::1]:8080/a", "[::1]"),
        ("not a url", ""),
    ],
)
def test_hosts_are_compared_lowercased_without_port_or_trailing_dot(url: str, host: str) -> None:
    assert host_of(url) == host


def test_a_busy_hosts_prefixes_match_every_url_to_it_and_no_other() -> None:
    prefixes = url_prefixes("hooks.example")

    def matches(url: str) -> bool:  # as the claim compares them
        return any((url.lower() + "/").startswith(prefix) for prefix in prefixes)

    for url in ("https://hooks.example", "http://HOOKS.example:81/x", "https://hooks.example./",
                "https://hooks.example?x", "https://hooks.example#f"):  # fmt: skip
        assert matches(url), url
    for url in ("https://hooks.example.org/", "https://other.example/hooks.example/"):
        assert not matches(url), url
