"""Idle workers are woken by an enqueue on any node (PostgreSQL NOTIFY on editserve_work;
SQLite's PRAGMA data_version), not by the next poll: the wait returns True only when woken,
False when its timeout ran out."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from fixtures.store import MODEL, make_gen
from fixtures.store_targets import StoreTarget

from editserve.store.rows import WorkerRow, WorkerState

LONG = 30.0  # a wait this long that returns True was woken, not timed out


def test_an_enqueue_on_another_node_wakes_an_idle_worker(target: StoreTarget) -> None:
    worker_side, api_side = target.open(), target.open()
    assert worker_side.wait_for_work(0.2) is False  # nothing queued: the timeout
    started = threading.Event()

    def idle() -> bool:
        started.set()
        return worker_side.wait_for_work(LONG)

    with ThreadPoolExecutor(1) as pool:
        woken = pool.submit(idle)
        started.wait()
        threading.Event().wait(0.3)  # the worker is inside its wait (and listening)
        api_side.insert_generations([make_gen()])
        assert woken.result(timeout=LONG + 5) is True
    claimed = worker_side.claim_batch("w1", [MODEL], 30, 3, 1)
    assert len(claimed) == 1


def test_writes_that_queue_nothing_do_not_wake_it(target: StoreTarget) -> None:
    worker_side, other = target.open(), target.open()
    assert worker_side.wait_for_work(0.1) is False  # first look (and listening from now)
    row = WorkerRow(
        id="w2", host="h", pid=2, device="cpu", state=WorkerState.READY, started_at=1.0,
        heartbeat_at=2.0, model=None, models=[MODEL], swaps=0,
    )  # fmt: skip
    with ThreadPoolExecutor(1) as pool:
        waited = pool.submit(worker_side.wait_for_work, 1.0)
        for _ in range(5):  # heartbeats of other workers commit all the time
            other.upsert_worker(row)
            other.worker_heartbeat("w2", WorkerState.READY)
        assert waited.result(timeout=10) is False
