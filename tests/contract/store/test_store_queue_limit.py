"""The per-key queue limit, on SQLite and on PostgreSQL: the count and the insert are one
transaction serialised per owner, so concurrent enqueues of one key never go over it
together (a check before the insert, in its own transaction, let 150 enqueues through
where 3 were allowed)."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fixtures.store import MODELS, make_gen
from fixtures.store_targets import StoreTarget

from editserve.domain.record import Status
from editserve.store import QueueFull, Store

pytestmark = pytest.mark.timeout(120)

LIMIT = 3
THREADS = 50


def test_concurrent_enqueues_of_one_key_never_go_over_the_limit(target: StoreTarget) -> None:
    stores = [target.open() for _ in range(4)]  # as four API processes would
    start = threading.Barrier(THREADS)

    def enqueue(index: int) -> bool:
        start.wait(timeout=30)
        try:
            stores[index % len(stores)].insert_generations([make_gen("key_a")], max_active=LIMIT)
        except QueueFull as full:
            assert full.limit == LIMIT and full.active <= LIMIT
            return False
        return True

    with ThreadPoolExecutor(THREADS) as pool:
        accepted = sum(pool.map(enqueue, range(THREADS)))
    assert accepted == LIMIT
    assert stores[0].count_active("key_a") == LIMIT


def test_several_keys_enqueueing_at_once_each_get_their_own_limit(target: StoreTarget) -> None:
    stores = [target.open() for _ in range(3)]
    owners = [f"key_{n}" for n in range(5)]
    start = threading.Barrier(len(owners) * 8)

    def enqueue(index: int) -> None:
        start.wait(timeout=30)
        gen = make_gen(owners[index % len(owners)])
        with contextlib.suppress(QueueFull):
            stores[index % len(stores)].insert_generations([gen], max_active=LIMIT)

    with ThreadPoolExecutor(len(owners) * 8) as pool:
        list(pool.map(enqueue, range(len(owners) * 8)))
    assert [stores[0].count_active(owner) for owner in owners] == [LIMIT] * len(owners)


def test_every_generation_of_a_request_counts_and_a_refused_one_leaves_nothing(
    store: Store,
) -> None:
    store.insert_generations([make_gen(), make_gen()], max_active=LIMIT)
    with pytest.raises(QueueFull) as refused:
        store.insert_generations([make_gen(), make_gen()], max_active=LIMIT)
    assert (refused.value.owner, refused.value.active, refused.value.limit) == ("key_a", 2, 3)
    assert store.count_active("key_a") == 2  # all or nothing: neither of the two
    store.insert_generations([make_gen()], max_active=LIMIT)
    with pytest.raises(QueueFull):
        store.insert_generations([make_gen()], max_active=LIMIT)
    store.insert_generations([make_gen("key_b")], max_active=LIMIT)  # another key: its own
    store.insert_generations([make_gen()])  # no limit given: none applies
    assert store.count_active("key_a") == 4


def test_processing_counts_and_ended_generations_free_their_place(store: Store) -> None:
    gens = [make_gen() for _ in range(LIMIT)]
    store.insert_generations(gens, max_active=LIMIT)
    claimed = store.claim("w1", MODELS, 30, 3)
    assert claimed is not None and claimed.status is Status.PROCESSING
    with pytest.raises(QueueFull):
        store.insert_generations([make_gen()], max_active=LIMIT)
    assert store.finish(claimed, "w1", Status.SUCCEEDED, result_key="outputs/x.png")
    store.insert_generations([make_gen()], max_active=LIMIT)
    assert store.count_active("key_a") == LIMIT
