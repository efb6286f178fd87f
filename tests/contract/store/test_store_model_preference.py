"""The store contract, on SQLite and on PostgreSQL: a worker's claim prefers the model it
has loaded, swaps when only other models' jobs wait, and lets a starving job go first."""

from __future__ import annotations

from fixtures.store import make_gen

from editserve.domain.record import Generation
from editserve.store import Store
from editserve.store.rows import WorkerRow, WorkerState

A, B = "model-a", "model-b"
SERVED = [A, B]


def enqueue(store: Store, *specs: tuple[str, float]) -> list[Generation]:
    """One generation per (model, enqueued_at), inserted in this (queue) order."""
    gens = [make_gen(model=model, enqueued_at=at) for model, at in specs]
    for gen in gens:
        store.insert_generations([gen])
    return gens


def claim_one(store: Store, loaded: str | None, starved_before: float | None = None) -> str:
    claimed = store.claim_batch(
        "w1", SERVED, 30, 3, 1, loaded=loaded, starved_before=starved_before
    )
    assert len(claimed) == 1
    return claimed[0].id


def test_the_loaded_model_goes_first_then_the_others(store: Store) -> None:
    a1, b1, a2, b2 = enqueue(store, (A, 1000.0), (B, 1001.0), (A, 1002.0), (B, 1003.0))
    order = [claim_one(store, A) for _ in range(2)]
    assert order == [a1.id, a2.id]  # b1 is older than a2, but A is loaded
    # Only B's jobs wait: the worker takes them (it swaps), oldest first.
    assert [claim_one(store, A), claim_one(store, B)] == [b1.id, b2.id]
    assert store.claim_batch("w1", SERVED, 30, 3, 1, loaded=B) == []


def test_no_loaded_model_is_plain_fifo(store: Store) -> None:
    gens = enqueue(store, (A, 1000.0), (B, 1001.0), (A, 1002.0), (B, 1003.0))
    assert [claim_one(store, None) for _ in gens] == [gen.id for gen in gens]


def test_a_starving_job_of_another_model_goes_first(store: Store) -> None:
    _a1, b1, a2 = enqueue(store, (A, 1000.0), (B, 1001.0), (A, 1002.0))
    assert claim_one(store, A, starved_before=999.0) != b1.id  # nobody starves yet: a1
    # b1 (enqueued at 1001) has waited past the bound: it goes before the loaded model's a2.
    assert claim_one(store, A, starved_before=1001.0) == b1.id
    assert claim_one(store, A, starved_before=1001.0) == a2.id


def test_a_starving_job_waits_only_for_older_jobs(store: Store) -> None:
    a1, b1, a2 = enqueue(store, (A, 1000.0), (B, 1001.0), (A, 1002.0))
    # Everyone starves: queue order (a1 is older than b1), then b1 before the newer a2.
    order = [claim_one(store, A, starved_before=5000.0) for _ in range(3)]
    assert order == [a1.id, b1.id, a2.id]


def test_priority_goes_before_the_loaded_model(store: Store) -> None:
    low = make_gen(model=A, enqueued_at=1000.0)
    urgent = make_gen(model=B, enqueued_at=1001.0, priority=5)
    store.insert_generations([low])
    store.insert_generations([urgent])
    assert claim_one(store, A) == urgent.id
    assert claim_one(store, A) == low.id


def test_the_loaded_model_is_claimed_only_if_served(store: Store) -> None:
    (other,) = enqueue(store, ("model-c", 1000.0))
    assert store.claim_batch("w1", SERVED, 30, 3, 1, loaded="model-c") == []
    assert store.claim_batch("w1", ["model-c"], 30, 3, 1, loaded=A)[0].id == other.id


def test_batches_of_the_loaded_model_keep_their_siblings(store: Store) -> None:
    (b1,) = enqueue(store, (B, 1000.0))
    twins = [make_gen(model=A, batch_id="req", batch_index=i, enqueued_at=1001.0) for i in (0, 1)]
    store.insert_generations(twins)
    claimed = store.claim_batch("w1", SERVED, 30, 3, 4, loaded=A)
    assert [gen.id for gen in claimed] == [gen.id for gen in twins]
    assert claim_one(store, A) == b1.id


def test_workers_record_what_they_serve_and_their_swaps(store: Store) -> None:
    row = WorkerRow(
        id="w1", host="h", pid=1, device="cpu", state=WorkerState.READY, started_at=1.0,
        heartbeat_at=2.0, model=B, models=SERVED, swaps=3,
    )  # fmt: skip
    store.upsert_worker(row)
    (read,) = store.list_workers()
    assert read.models == SERVED and read.swaps == 3 and read.model == B
    store.upsert_worker(WorkerRow(**{**row.__dict__, "swaps": 4, "model": A}))
    (read,) = store.list_workers()
    assert read.swaps == 4 and read.model == A
