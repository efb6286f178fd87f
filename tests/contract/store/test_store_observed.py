"""Leases under clock skew, and what /metrics counts in the store (migration 008)."""

from __future__ import annotations

import time

import pytest
from fixtures.store import MODELS, make_gen, reload
from fixtures.store_targets import StoreTarget

from editserve.domain.record import Status
from editserve.store import Store
from editserve.store.observed import bucket_of
from editserve.store.rows import WorkerRow, WorkerState

SKEW_SECONDS = 3600.0


def test_a_worker_with_a_skewed_clock_keeps_its_lease(
    target: StoreTarget, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL leases are stamped and judged by the database clock, so a worker
    whose own clock runs an hour behind keeps a live lease. SQLite is one file on one
    machine, so its workers share one clock (the hosts cannot disagree); the same skew
    there would expire the lease at once, which is what this shows."""
    gen = make_gen()
    target.open().insert_generations([gen])
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - SKEW_SECONDS)
    skewed = target.open()  # the skewed worker's connection
    assert [g.id for g in skewed.claim_batch("w-skewed", MODELS, 30, 3, 1)] == [gen.id]
    assert skewed.renew_lease(gen.id, "w-skewed", 30)
    monkeypatch.undo()
    other = target.open()  # another node, its clock right
    taken = other.claim_batch("w-other", MODELS, 30, 3, 1)
    if kind == "postgres":
        assert taken == []
        held = reload(other, gen)
        assert held.status is Status.PROCESSING and held.worker_id == "w-skewed"
        assert skewed.report_progress([held], "w-skewed", 1, 3, "denoising", emit=False)
    else:
        assert [g.id for g in taken] == [gen.id]


def test_worker_restarts_are_counted_by_host(store: Store) -> None:
    for worker_id, host in (("w0-a", "h1"), ("w0-b", "h1"), ("w1-a", "h2")):
        now = time.time()
        store.upsert_worker(
            WorkerRow(worker_id, host, 1, "cpu", WorkerState.READY, now, now, model="m")
        )
    assert store.worker_restarts() == {"h1": 0, "h2": 0}
    store.record_worker_restart("w0-a")
    store.record_worker_restart("w1-a")
    assert store.worker_restarts() == {"h1": 1, "h2": 1}
    rows = {row.id: row for row in store.list_workers()}
    assert rows["w0-a"].restarts == 1 and rows["w0-a"].state is WorkerState.STOPPED
    assert rows["w0-b"].restarts == 0 and rows["w0-b"].state is WorkerState.READY


def test_stage_timings_are_counted_in_buckets(store: Store) -> None:
    store.record_stage_timings("m", {"denoise": 0.3, "total": 0.4})
    store.record_stage_timings("m", {"denoise": 0.31, "total": 1e6})
    store.record_stage_timings("n", {"denoise": 0.001})
    rows = {(m, s, le): (n, round(sec, 3)) for m, s, le, n, sec in store.stage_latency()}
    assert rows == {
        ("m", "denoise", "0.5"): (2, 0.61),
        ("m", "total", "0.5"): (1, 0.4),
        ("m", "total", "+Inf"): (1, 1e6),
        ("n", "denoise", "0.005"): (1, 0.001),
    }
    assert bucket_of(0.5) == "0.5" and bucket_of(0.50001) == "1.0"
