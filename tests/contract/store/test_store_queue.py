"""The store contract, on SQLite and on PostgreSQL: claims, leases, reaping, cancel, batches,
progress and finish. Both stores must pass every test the same way, including the exact
event payloads."""

from __future__ import annotations

import threading
import time
import uuid

from fixtures.store import MODEL, MODELS, make_gen, payloads, reload
from fixtures.store_targets import StoreTarget

from editserve.domain.record import Event, Status
from editserve.store import Store

# --- claims --------------------------------------------------------------------------------


def test_claim_is_fifo_and_emits_started(store: Store) -> None:
    first, second = make_gen(), make_gen()
    store.insert_generations([first, second])
    assert store.queue_position(first) == 0 and store.queue_position(second) == 1
    claimed = store.claim("w1", MODELS, 30, 3)
    assert claimed is not None and claimed.id == first.id
    assert claimed.status is Status.PROCESSING and claimed.attempts == 1
    assert claimed.worker_id == "w1" and claimed.stage == "starting"
    assert claimed.started_at is not None and claimed.lease_expires_at is not None
    assert claimed.lease_expires_at > claimed.started_at
    assert claimed.params == first.params and claimed.seed == first.seed
    assert payloads(store.events_after("key_a", 0)) == [
        (
            "media_generation_started",
            {
                "generation_id": first.id,
                "media_type": "image",
                "model": MODEL,
                "status": "processing",
                "attempt": 1,
            },
        )
    ]
    assert store.queue_position(reload(store, second)) == 0


def test_claim_takes_higher_priority_first_and_only_its_models(store: Store) -> None:
    low, other_model, high = make_gen(), make_gen(model="other"), make_gen(priority=5)
    store.insert_generations([low, other_model, high])
    assert store.queue_position(low) == 1  # high runs first
    assert store.claim("w1", MODELS, 30, 3).id == high.id  # type: ignore[union-attr]
    assert store.claim("w1", MODELS, 30, 3).id == low.id  # type: ignore[union-attr]
    assert store.claim("w1", MODELS, 30, 3) is None
    assert store.claim("w1", ["other"], 30, 3).id == other_model.id  # type: ignore[union-attr]


def test_concurrent_claimers_never_share_a_job_and_a_poller_misses_no_event(
    target: StoreTarget,
) -> None:
    target.open().insert_generations([make_gen() for _ in range(40)])
    taken: list[str] = []
    seen: list[Event] = []
    lock = threading.Lock()
    claimers_done = threading.Event()

    def claimer(name: str, store: Store) -> None:
        while (gen := store.claim(name, MODELS, 30, 3)) is not None:
            with lock:
                taken.append(gen.id)

    def poller(store: Store) -> None:
        # What the SSE endpoint does: read by increasing id, never look back.
        after = 0
        while True:
            finished = claimers_done.is_set()
            batch = store.events_after("key_a", after)
            seen.extend(batch)
            if batch:
                after = batch[-1].id
            elif finished:
                return

    stores = [target.open() for _ in range(5)]  # one per thread, like separate processes
    threads = [threading.Thread(target=claimer, args=(f"w{i}", stores[i])) for i in range(4)]
    watcher = threading.Thread(target=poller, args=(stores[4],))
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimers_done.set()
    watcher.join()
    assert len(taken) == 40 and len(set(taken)) == 40
    assert sorted(event.generation_id for event in seen) == sorted(taken)
    assert [event.id for event in seen] == sorted({event.id for event in seen})


def test_batch_claim_takes_queued_siblings_of_the_same_request(store: Store) -> None:
    batch = [make_gen(batch_id="req-1", batch_index=i, seed=i) for i in range(3)]
    other = make_gen(batch_id="req-2")
    store.insert_generations(batch)
    store.insert_generations([other])
    first = store.claim_batch("w1", MODELS, 30, 3, 2)
    assert [g.id for g in first] == [batch[0].id, batch[1].id]
    assert all(g.status is Status.PROCESSING and g.worker_id == "w1" for g in first)
    rest = store.claim_batch("w2", MODELS, 30, 3, 4)
    assert [g.id for g in rest] == [batch[2].id]  # never another request's job
    assert [g.id for g in store.claim_batch("w3", MODELS, 30, 3, 4)] == [other.id]
    assert store.claim_batch("w4", MODELS, 30, 3, 4) == []
    started = store.events_after("key_a", 0)
    assert [e.generation_id for e in started] == [*(g.id for g in batch), other.id]
    assert {e.data["attempt"] for e in started} == {1}


# --- leases ----------------------------------------------------------------------------------


def test_expired_lease_is_reclaimed_then_failed_after_max_attempts(store: Store) -> None:
    gen = make_gen()
    store.insert_generations([gen])
    assert store.claim("w1", MODELS, 0.01, 2) is not None
    time.sleep(0.05)
    again = store.claim("w2", MODELS, 0.01, 2)
    assert again is not None and again.id == gen.id and again.attempts == 2
    assert again.worker_id == "w2"
    # the first worker lost its lease: its writes are refused
    assert not store.finish(gen, "w1", Status.SUCCEEDED, result_key="outputs/x.png")
    assert store.report_progress([gen], "w1", 1, 2, "denoising", emit=True) == {}
    assert not store.renew_lease(gen.id, "w1", 30)
    time.sleep(0.05)
    assert store.claim("w3", MODELS, 0.01, 2) is None
    final = reload(store, gen)
    assert final.status is Status.FAILED and final.completed_at is not None
    assert final.worker_id is None and final.lease_expires_at is None
    message = (
        "the worker running this generation stopped unexpectedly 2 times "
        "(for example killed by the OS or out of memory); giving up"
    )
    assert final.error_message == message
    assert payloads(store.events_after("key_a", 0))[-1] == (
        "media_generation_completed",
        {
            "generation_id": gen.id,
            "media_type": "image",
            "model": MODEL,
            "status": "failed",
            "error": message,
        },
    )


def test_expired_lease_of_a_cancelled_job_is_reaped_as_cancelled(store: Store) -> None:
    gen = make_gen()
    store.insert_generations([gen])
    store.claim("w1", MODELS, 0.01, 3)
    assert store.request_cancel(gen.id, "key_a").cancel_requested  # type: ignore[union-attr]
    time.sleep(0.05)
    assert store.claim("w2", MODELS, 30, 3) is None
    final = reload(store, gen)
    assert final.status is Status.CANCELLED and final.worker_id is None
    assert store.events_after("key_a", 0)[-1].type == "media_generation_cancelled"


def test_renewed_lease_keeps_the_job(store: Store) -> None:
    gen = make_gen()
    store.insert_generations([gen])
    claimed = store.claim("w1", MODELS, 0.5, 3)
    assert claimed is not None and claimed.lease_expires_at is not None
    assert store.renew_lease(gen.id, "w1", 3600)
    assert reload(store, gen).lease_expires_at > claimed.lease_expires_at  # type: ignore[operator]
    time.sleep(0.6)
    assert store.claim("w2", MODELS, 30, 3) is None
    assert not store.renew_lease(gen.id, "w2", 3600)


def test_release_worker_leases_makes_the_job_claimable_now(store: Store) -> None:
    gen = make_gen()
    store.insert_generations([gen])
    store.claim("dead", MODELS, 3600, 3)
    assert store.claim("w2", MODELS, 3600, 3) is None
    assert store.release_worker_leases("dead") == 1
    assert store.release_worker_leases("nobody") == 0
    claimed = store.claim("w2", MODELS, 3600, 3)
    assert claimed is not None and claimed.id == gen.id and claimed.attempts == 2


def test_requeue_does_not_count_the_attempt(store: Store) -> None:
    gen = make_gen()
    store.insert_generations([gen])
    store.claim("w1", MODELS, 30, 3)
    assert store.report_progress([gen], "w1", 1, 4, "denoising", emit=False) == {gen.id: False}
    assert not store.requeue(gen, "w2")
    assert store.requeue(gen, "w1")
    back = reload(store, gen)
    assert back.status is Status.QUEUED and back.attempts == 0 and back.worker_id is None
    assert (back.progress_step, back.progress_total, back.stage) == (None, None, None)
    again = store.claim("w2", MODELS, 30, 3)
    assert again is not None and again.attempts == 1
    assert not store.requeue(gen, "w1")


# --- cancel ----------------------------------------------------------------------------------


def test_cancel_queued_processing_and_terminal(store: Store) -> None:
    running, queued = make_gen(), make_gen()
    store.insert_generations([running, queued])
    store.claim("w1", MODELS, 30, 3)
    cancelled = store.request_cancel(queued.id, "key_a")
    assert cancelled is not None and cancelled.status is Status.CANCELLED
    assert cancelled.completed_at is not None and cancelled.cancel_requested
    assert store.claim("w2", MODELS, 30, 3) is None  # a cancelled job never runs
    flagged = store.request_cancel(running.id, "key_a")
    assert flagged is not None and flagged.status is Status.PROCESSING and flagged.cancel_requested
    assert store.is_cancel_requested(running.id)
    assert not store.is_cancel_requested(str(uuid.uuid4()))
    assert store.finish(running, "w1", Status.CANCELLED)
    terminal = store.request_cancel(running.id, "key_a")
    assert terminal is not None and terminal.status is Status.CANCELLED
    assert store.request_cancel(running.id, "someone_else") is None
    assert store.request_cancel(str(uuid.uuid4()), "key_a") is None
    events = store.events_after("key_a", 0)
    assert [(e.type, e.generation_id) for e in events] == [
        ("media_generation_started", running.id),
        ("media_generation_cancelled", queued.id),
        ("media_generation_cancelled", running.id),
    ]
    assert events[1].data == {
        "generation_id": queued.id,
        "media_type": "image",
        "model": MODEL,
        "status": "cancelled",
    }


def test_batch_progress_is_one_call_that_reports_cancels_and_lost_leases(store: Store) -> None:
    lost = make_gen()
    batch = [make_gen(batch_id="req-1", batch_index=i, seed=i) for i in range(2)]
    store.insert_generations(batch)
    store.insert_generations([lost])
    first, second = store.claim_batch("w1", MODELS, 3600, 3, 2)
    assert [first.id, second.id] == [batch[0].id, batch[1].id]
    assert store.claim("w1", MODELS, 0.01, 3) is not None  # lost: a short lease
    time.sleep(0.05)
    taken = store.claim("w2", MODELS, 3600, 3)  # another worker takes lost over
    assert taken is not None and taken.id == lost.id
    flagged = store.request_cancel(second.id, "key_a")
    assert flagged is not None and flagged.cancel_requested
    after = store.last_event_id("key_a")
    held = store.report_progress([first, second, lost], "w1", 3, 8, "denoising", emit=True)
    assert held == {first.id: False, second.id: True}  # lost is missing: not w1's any more
    assert store.report_progress([], "w1", 3, 8, "denoising", emit=True) == {}
    for gen in (first, second):
        running = reload(store, gen)
        assert (running.progress_step, running.progress_total, running.stage) == (3, 8, "denoising")
    assert reload(store, lost).stage == "starting"  # w2's claim, untouched by w1
    progress = store.events_after("key_a", after)
    assert [(e.type, e.generation_id) for e in progress] == [
        ("media_generation_progress", first.id),
        ("media_generation_progress", second.id),
    ]
    assert progress[1].data == {
        "generation_id": second.id,
        "media_type": "image",
        "model": MODEL,
        "status": "processing",
        "step": 3,
        "total": 8,
        "stage": "denoising",
    }
    quiet = store.report_progress([first, second], "w1", 4, 8, "denoising", emit=False)
    assert quiet == {first.id: False, second.id: True}
    assert store.last_event_id("key_a") == progress[-1].id  # emit=False: no events


# --- progress, finish, events ------------------------------------------------------------------


def test_progress_and_finish_are_recorded_with_their_events(store: Store) -> None:
    ok, bad, anon = make_gen(), make_gen(), make_gen()
    store.insert_generations([ok, bad, anon])
    for _ in range(3):
        store.claim("w1", MODELS, 30, 3)
    assert store.report_progress([ok], "w1", 1, 2, "denoising", emit=True) == {ok.id: False}
    assert store.report_progress([ok], "w1", 2, 2, "decoding", emit=False) == {ok.id: False}
    running = reload(store, ok)
    assert (running.progress_step, running.progress_total, running.stage) == (2, 2, "decoding")
    timings = {"queue_wait": 0.5, "denoise": 1.25}
    receipt = {"weights": {"is_tiny": True}, "seed": 1}
    assert store.finish(
        ok, "w1", Status.SUCCEEDED, result_key="outputs/a.png", timings=timings, receipt=receipt
    )
    assert not store.finish(ok, "w1", Status.FAILED, error_message="late")  # already terminal
    assert store.finish(bad, "w1", Status.FAILED, error_message="boom")
    assert store.finish(anon, "w1", Status.FAILED)
    done = reload(store, ok)
    assert done.status is Status.SUCCEEDED and done.result_key == "outputs/a.png"
    assert done.timings == timings and done.receipt == receipt and done.stage == "succeeded"
    assert done.worker_id is None and done.lease_expires_at is None
    assert done.completed_at is not None and done.completed_at >= done.started_at  # type: ignore[operator]
    failed = reload(store, bad)
    assert failed.status is Status.FAILED and failed.error_message == "boom"
    base = {"media_type": "image", "model": MODEL}
    events = store.events_after("key_a", 0)
    assert payloads(events[3:]) == [
        (
            "media_generation_progress",
            {
                "generation_id": ok.id,
                **base,
                "status": "processing",
                "step": 1,
                "total": 2,
                "stage": "denoising",
            },
        ),
        (
            "media_generation_completed",
            {"generation_id": ok.id, **base, "status": "succeeded", "result_key": "outputs/a.png"},
        ),
        (
            "media_generation_completed",
            {"generation_id": bad.id, **base, "status": "failed", "error": "boom"},
        ),
        (
            "media_generation_completed",
            {"generation_id": anon.id, **base, "status": "failed", "error": "unknown error"},
        ),
    ]
    # the JSON key order is kept too (the SSE wire format is built from it)
    assert list(events[4].data) == [
        "generation_id",
        "media_type",
        "model",
        "status",
        "result_key",
    ]
