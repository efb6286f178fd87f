"""The store contract of a shared fleet, on SQLite and on PostgreSQL: fair sharing of one
worker between keys (start-time fair queueing tags at enqueue, the claim's priority, tag,
seq order; store/fairness.py), and the usage a worker's finish records (usage_hours),
kept when the generations are pruned.

One simulated worker claims and finishes through the store API, one job at a time, as
bench/queue.py's workers do; the claim order is what the tests read.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from fixtures.store import MODEL, MODELS, make_gen

from editserve.domain.record import Generation, Status
from editserve.services.keys import create_key
from editserve.store import Store

pytestmark = pytest.mark.timeout(180)

OTHER_MODEL = "model-b"
HOUR = 3600


def new_key(store: Store, name: str) -> str:
    return create_key(store, name).row.id


def enqueue(
    store: Store, owner: str, n: int, *, cost: float | None = None, priority: int = 0
) -> list[str]:
    """n generations of owner, one enqueue request each (each its own insert)."""
    ids = []
    for _ in range(n):
        gen = make_gen(owner, priority=priority)
        store.insert_generations([gen], costs=None if cost is None else {gen.id: cost})
        ids.append(gen.id)
    return ids


def claim(store: Store, models: list[str] = MODELS) -> Generation:
    gen = store.claim("w1", models, 30, 3)
    assert gen is not None, "nothing left to claim"
    return gen


def run(store: Store, n: int | None = None) -> list[Generation]:
    """One worker claims and finishes n jobs (None: until the queue is empty), in turn."""
    done: list[Generation] = []
    while n is None or len(done) < n:
        gen = store.claim("w1", MODELS, 30, 3)
        if gen is None:
            break
        assert store.finish(gen, "w1", Status.SUCCEEDED, result_key=f"outputs/{gen.id}.png")
        done.append(gen)
    return done


def owners(gens: list[Generation]) -> list[str]:
    return [gen.owner for gen in gens]


def others_before_each(order: list[str], mine: str) -> list[int]:
    """For each of `mine`'s jobs in the claim order: how many other keys' jobs were
    claimed since the one of `mine` before it (or since the start)."""
    gaps, since = [], 0
    for owner in order:
        if owner == mine:
            gaps.append(since)
            since = 0
        else:
            since += 1
    return gaps


# --- fair sharing ----------------------------------------------------------------------------


def test_a_key_that_queued_200_does_not_starve_the_next_key(store: Store) -> None:
    a, b = new_key(store, "a"), new_key(store, "b")
    enqueue(store, a, 150)
    for _ in range(2):  # and some enqueue requests of many generations
        store.insert_generations([make_gen(a) for _ in range(25)])
    assert owners(run(store, 10)) == [a] * 10
    in_hand = claim(store)  # the job the worker holds when B enqueues
    assert in_hand.owner == a
    b_ids = enqueue(store, b, 5)
    assert store.finish(in_hand, "w1", Status.SUCCEEDED)
    order = run(store)
    assert len(order) == 200 + 5 - 11
    # each of B's jobs waits for at most one of A's, not for A's backlog of 189
    assert others_before_each(owners(order), b) == [1, 1, 1, 1, 1]
    assert [gen.id for gen in order if gen.owner == b] == b_ids  # B's in its own order
    assert owners(order[10:]) == [a] * (len(order) - 10)


def test_a_key_alone_is_served_in_its_own_order(store: Store) -> None:
    a = new_key(store, "a")
    ids = enqueue(store, a, 20)
    assert [gen.id for gen in run(store)] == ids


@pytest.mark.parametrize("b_first", [False, True], ids=["a-queued-first", "b-queued-first"])
def test_weights_3_to_1_share_the_worker_30_to_10(store: Store, b_first: bool) -> None:
    a, b = new_key(store, "a"), new_key(store, "b")
    assert store.update_key(a, {"weight": 3.0}, actor="test") is not None
    for owner in (b, a) if b_first else (a, b):
        enqueue(store, owner, 60)
    shares = Counter(owners(run(store, 40)))
    assert abs(shares[a] - 30) <= 2 and abs(shares[b] - 10) <= 2, shares


def test_by_gpu_time_a_key_with_4x_dearer_jobs_gets_a_quarter_as_many(store: Store) -> None:
    a, b = new_key(store, "a"), new_key(store, "b")
    enqueue(store, a, 20, cost=4.0)
    enqueue(store, b, 40, cost=1.0)
    order = owners(run(store, 25))
    shares = Counter(order)
    assert abs(shares[a] - 5) <= 1 and abs(shares[b] - 20) <= 1, shares
    # and spread out: between two of A's jobs, B gets three to five
    assert all(3 <= gap <= 5 for gap in others_before_each(order, a)[1:]), order


def test_a_weight_changed_later_applies_to_later_enqueues(store: Store) -> None:
    a, b = new_key(store, "a"), new_key(store, "b")
    enqueue(store, a, 30)
    enqueue(store, b, 30)
    assert Counter(owners(run(store, 10))) == {a: 5, b: 5}  # equal weights: turn by turn
    run(store)
    store.update_key(b, {"weight": 4.0}, actor="test")
    enqueue(store, a, 30)
    enqueue(store, b, 30)
    shares = Counter(owners(run(store, 20)))
    assert abs(shares[b] - 16) <= 2, shares


def test_a_higher_priority_job_of_the_busy_key_still_goes_first(store: Store) -> None:
    a, b = new_key(store, "a"), new_key(store, "b")
    enqueue(store, a, 50)
    b_ids = enqueue(store, b, 3)
    [urgent] = enqueue(store, a, 1, priority=5)  # its tag is far behind A's backlog
    first = claim(store)
    assert first.id == urgent
    order = [first, *run(store, 7)]
    assert [gen.id for gen in order if gen.owner == b] == b_ids


@pytest.mark.parametrize("loaded", [MODEL, None], ids=["loaded", "nothing-loaded"])
def test_the_loaded_model_still_goes_before_a_lower_tag_of_another_model(
    store: Store, loaded: str | None
) -> None:
    a, b = new_key(store, "a"), new_key(store, "b")
    a_jobs = [make_gen(a, model=MODEL) for _ in range(3)]  # tags 0, 1, 2
    for gen in a_jobs:
        store.insert_generations([gen])
    b_job = make_gen(b, model=OTHER_MODEL)
    store.insert_generations([b_job])  # tag 0: below A's second and third
    served = [MODEL, OTHER_MODEL]
    taken = [store.claim_batch("w1", served, 30, 3, 1, loaded=loaded)[0].id for _ in range(4)]
    if loaded == MODEL:  # no swap while the loaded model has work
        assert taken == [*(gen.id for gen in a_jobs), b_job.id]
    else:  # nothing loaded: the tags decide (seq at a tie)
        assert taken == [a_jobs[0].id, b_job.id, a_jobs[1].id, a_jobs[2].id]


# --- usage -----------------------------------------------------------------------------------


Sums = tuple[int, int, float, float]  # generations, succeeded, gpu_seconds, megapixels


def _rounded(sums: dict[tuple[str, str, int], list[float]]) -> dict[tuple[str, str, int], Sums]:
    return {k: (int(v[0]), int(v[1]), round(v[2], 6), round(v[3], 6)) for k, v in sums.items()}


def test_usage_sums_the_finishes_by_key_model_and_hour_and_outlives_a_prune(
    store: Store,
) -> None:
    plan = [  # (owner, model, status, gpu_seconds, output_megapixels)
        ("key_a", MODEL, Status.SUCCEEDED, 1.25, 0.25),
        ("key_a", MODEL, Status.SUCCEEDED, 2.5, 1.0),
        ("key_a", OTHER_MODEL, Status.FAILED, 0.5, None),
        ("key_b", MODEL, Status.SUCCEEDED, 4.0, 0.5),
        ("key_b", MODEL, Status.CANCELLED, 0.125, None),  # cancelled while running
        ("key_b", MODEL, Status.SUCCEEDED, None, None),  # a worker that measured nothing
    ]
    planned = {}
    for entry in plan:
        gen = make_gen(entry[0], model=entry[1])
        store.insert_generations([gen])
        planned[gen.id] = entry
    cancelled_queued = make_gen("key_a")
    store.insert_generations([cancelled_queued])
    assert store.request_cancel(cancelled_queued.id, "key_a") is not None  # never runs
    for _ in plan:
        gen = claim(store, [MODEL, OTHER_MODEL])
        _, _, status, gpu, mp = planned[gen.id]
        assert store.finish(gen, "w1", status, gpu_seconds=gpu, output_megapixels=mp)
    assert store.claim("w1", [MODEL, OTHER_MODEL], 30, 3) is None

    expected: dict[tuple[str, str, int], list[float]] = {}
    for gen_id, (owner, model, status, gpu, mp) in planned.items():
        done = store.get_generation(gen_id)
        assert done is not None and done.status is status
        assert (done.gpu_seconds, done.output_megapixels) == (gpu, mp)
        if gpu is None:
            continue
        assert done.completed_at is not None
        hour = int(done.completed_at // HOUR) * HOUR
        sums = expected.setdefault((owner, model, hour), [0, 0, 0.0, 0.0])
        sums[0] += 1
        sums[1] += status is Status.SUCCEEDED
        sums[2] += gpu
        sums[3] += mp or 0.0

    def recorded(owner: str | None = None) -> dict[tuple[str, str, int], Sums]:
        end = (int(time.time() // HOUR) + 2) * HOUR
        rows = store.usage_hours(owner, 0, end)
        return _rounded({
            (row.owner, row.model, row.hour):
                [row.generations, row.succeeded, row.gpu_seconds, row.output_megapixels]
            for row in rows
        })  # fmt: skip

    assert recorded() == _rounded(expected)
    assert recorded("key_a") == {k: v for k, v in _rounded(expected).items() if k[0] == "key_a"}
    totals = {(row.owner, row.model): (row.generations, round(row.gpu_seconds, 6))
              for row in store.usage_totals()}  # fmt: skip
    assert totals == {
        ("key_a", MODEL): (2, 3.75),
        ("key_a", OTHER_MODEL): (1, 0.5),
        ("key_b", MODEL): (2, 4.125),
    }
    # the hour window is [from, to): the hour after the last finish holds nothing
    after = max(hour for _, _, hour in expected) + HOUR
    assert store.usage_hours(None, after, after + HOUR) == []

    gone = store.delete_generations([*planned, cancelled_queued.id], time.time() + 60)
    assert gone["generations"] == len(plan) + 1
    assert all(store.get_generation(gen_id) is None for gen_id in planned)
    assert recorded() == _rounded(expected)  # usage is kept through prunes


def test_a_finish_that_is_no_longer_ours_records_no_usage(store: Store) -> None:
    gen = make_gen("key_a")
    store.insert_generations([gen])
    held = claim(store)
    assert not store.finish(held, "another-worker", Status.SUCCEEDED, gpu_seconds=9.0)
    assert store.usage_totals() == []
    assert store.finish(held, "w1", Status.SUCCEEDED, gpu_seconds=2.0)
    assert not store.finish(held, "w1", Status.SUCCEEDED, gpu_seconds=2.0)  # once
    [row] = store.usage_totals()
    assert (row.owner, row.generations, row.gpu_seconds) == ("key_a", 1, pytest.approx(2.0))


def test_finish_and_claim_records_the_usage_of_the_finished_job(store: Store) -> None:
    from editserve.store.rows import NextClaim

    first, second = make_gen("key_a"), make_gen("key_b")
    store.insert_generations([first])
    store.insert_generations([second])
    held = claim(store)
    then = NextClaim(models=tuple(MODELS), lease_seconds=30, max_attempts=3)
    finished, claimed = store.finish_and_claim(
        held, "w1", Status.SUCCEEDED, then, gpu_seconds=3.5, output_megapixels=0.75
    )
    assert finished and [gen.id for gen in claimed] == [second.id]
    [row] = store.usage_totals()
    assert (row.owner, row.succeeded, row.gpu_seconds, row.output_megapixels) == (
        "key_a", 1, pytest.approx(3.5), pytest.approx(0.75)
    )  # fmt: skip
