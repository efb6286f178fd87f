"""A finish and the worker's next claim in one transaction (one statement on PostgreSQL):
the same outcome, rows and events as a finish followed by a claim, on both stores."""

from __future__ import annotations

import threading

from fixtures.store import MODEL, MODELS, make_gen, payloads, reload
from fixtures.store_targets import StoreTarget

from editserve.domain.record import Status
from editserve.store import Store
from editserve.store.rows import NextClaim

NEXT = NextClaim(models=tuple(MODELS), lease_seconds=30, max_attempts=3)


def test_it_finishes_the_job_and_claims_the_next_in_queue_order(store: Store) -> None:
    first, low, high = make_gen(), make_gen(), make_gen(priority=2)
    store.insert_generations([first])
    held = store.claim("w1", MODELS, 30, 3)
    assert held is not None and held.id == first.id
    store.insert_generations([low, high])
    finished, claimed = store.finish_and_claim(held, "w1", Status.SUCCEEDED, NEXT, result_key="k")
    assert finished
    assert [gen.id for gen in claimed] == [high.id]
    assert claimed[0].status is Status.PROCESSING and claimed[0].worker_id == "w1"
    assert claimed[0].attempts == 1 and claimed[0].stage == "starting"
    done = reload(store, first)
    assert done.status is Status.SUCCEEDED and done.result_key == "k" and done.worker_id is None
    kinds = [
        (kind, data["generation_id"]) for kind, data in payloads(store.events_after("key_a", 0))
    ]
    assert kinds == [
        ("media_generation_started", first.id),
        ("media_generation_completed", first.id),
        ("media_generation_started", high.id),
    ]
    started = payloads(store.events_after("key_a", 0))[-1][1]
    assert started == {"generation_id": high.id, "media_type": "image", "model": MODEL,
                       "status": "processing", "attempt": 1}  # fmt: skip


def test_an_empty_queue_claims_nothing_and_a_failure_is_recorded(store: Store) -> None:
    gen = make_gen()
    store.insert_generations([gen])
    held = store.claim("w1", MODELS, 30, 3)
    assert held is not None
    finished, claimed = store.finish_and_claim(
        held, "w1", Status.FAILED, NEXT, error_message="bad input", timings={"total": 1.5}
    )
    assert finished and claimed == []
    done = reload(store, gen)
    assert done.status is Status.FAILED and done.error_message == "bad input"
    assert done.timings == {"total": 1.5}


def test_a_job_no_longer_held_is_not_finished_but_the_claim_goes_on(store: Store) -> None:
    gen, waiting = make_gen(), make_gen()
    store.insert_generations([gen])
    held = store.claim("w1", MODELS, 30, 3)
    assert held is not None
    store.insert_generations([waiting])
    finished, claimed = store.finish_and_claim(held, "w2", Status.SUCCEEDED, NEXT, result_key="k")
    assert not finished
    assert reload(store, gen).status is Status.PROCESSING  # still w1's
    assert [c.id for c in claimed] == [waiting.id] and claimed[0].worker_id == "w2"


def test_the_job_being_finished_is_not_claimed_again_when_its_lease_ran_out(
    store: Store,
) -> None:
    gen = make_gen()
    store.insert_generations([gen])
    held = store.claim("w1", MODELS, 30, 3)
    assert held is not None
    assert store.release_worker_leases("w1") == 1  # its lease is now over
    finished, claimed = store.finish_and_claim(held, "w1", Status.SUCCEEDED, NEXT, result_key="k")
    assert finished and claimed == []
    assert reload(store, gen).status is Status.SUCCEEDED


def test_siblings_come_with_the_next_claim(store: Store) -> None:
    gen = make_gen()
    batch = [make_gen(batch_id="b", batch_index=index) for index in range(3)]
    store.insert_generations([gen])
    held = store.claim("w1", MODELS, 30, 3)
    assert held is not None
    store.insert_generations(batch)
    then = NextClaim(models=tuple(MODELS), lease_seconds=30, max_attempts=3, max_batch=3)
    finished, claimed = store.finish_and_claim(held, "w1", Status.SUCCEEDED, then, result_key="k")
    assert finished and [c.id for c in claimed] == [b.id for b in batch]


def test_workers_chaining_finish_and_claim_share_no_job(target: StoreTarget) -> None:
    target.open().insert_generations([make_gen() for _ in range(60)])
    ran: list[str] = []
    lock = threading.Lock()

    def work(worker_id: str) -> None:
        store = target.open()
        gen = store.claim(worker_id, MODELS, 30, 3)
        while gen is not None:
            with lock:
                ran.append(gen.id)
            finished, claimed = store.finish_and_claim(
                gen, worker_id, Status.SUCCEEDED, NEXT, result_key="k"
            )
            assert finished
            gen = claimed[0] if claimed else None

    threads = [threading.Thread(target=work, args=(f"w{index}",)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(ran) == 60 and len(set(ran)) == 60
    assert target.open().count_generations("key_a", [Status.SUCCEEDED]) == 60
