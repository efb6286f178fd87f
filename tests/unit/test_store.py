"""The SQLite job store: claims, leases, reaping, cancel, events, keys."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from editserve.generations.record import Generation, Status
from editserve.store.sqlite import SqliteStore


def make_gen(owner: str = "key_a", **overrides: object) -> Generation:
    values: dict = dict(
        id=str(uuid.uuid4()),
        owner=owner,
        model="qwen-image-edit-plus",
        status=Status.QUEUED,
        params={"prompt": "p", "input_image": ["x"]},
        inputs=[],
        batch_id="b",
        batch_index=0,
        seed=1,
        width=64,
        height=64,
        area=4096,
        enqueued_at=time.time(),
    )
    values.update(overrides)
    return Generation(**values)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "db.sqlite")


MODELS = ["qwen-image-edit-plus"]


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "db.sqlite")
    again = SqliteStore(tmp_path / "db.sqlite")
    assert again.count_active_keys() == 0


def test_claim_is_fifo_and_emits_started(store: SqliteStore) -> None:
    first, second = make_gen(), make_gen()
    store.insert_generations([first, second])
    claimed = store.claim("w1", MODELS, 30, 3)
    assert claimed is not None and claimed.id == first.id
    assert claimed.status is Status.PROCESSING and claimed.attempts == 1
    events = store.events_after("key_a", 0)
    assert [e.type for e in events] == ["media_generation_started"]
    assert store.queue_position(store.get_generation(second.id)) == 0  # type: ignore[arg-type]


def test_concurrent_claims_never_share_a_job(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    SqliteStore(path).insert_generations([make_gen() for _ in range(40)])
    taken: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        store = SqliteStore(path)
        while (gen := store.claim(name, MODELS, 30, 3)) is not None:
            with lock:
                taken.append(gen.id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 40
    assert len(set(taken)) == 40


def test_expired_lease_is_reclaimed_then_failed_after_max_attempts(store: SqliteStore) -> None:
    gen = make_gen()
    store.insert_generations([gen])
    assert store.claim("w1", MODELS, 0.01, 2) is not None
    time.sleep(0.05)
    again = store.claim("w2", MODELS, 0.01, 2)
    assert again is not None and again.id == gen.id and again.attempts == 2
    # the first worker lost its lease: its writes are refused
    assert not store.finish(gen, "w1", Status.SUCCEEDED, result_key="outputs/x.png")
    time.sleep(0.05)
    assert store.claim("w3", MODELS, 0.01, 2) is None
    final = store.get_generation(gen.id)
    assert final is not None and final.status is Status.FAILED
    assert "stopped unexpectedly 2 times" in (final.error_message or "")
    assert store.events_after("key_a", 0)[-1].data["status"] == "failed"


def test_release_worker_leases_makes_the_job_claimable_now(store: SqliteStore) -> None:
    gen = make_gen()
    store.insert_generations([gen])
    store.claim("dead", MODELS, 3600, 3)
    assert store.claim("w2", MODELS, 3600, 3) is None
    assert store.release_worker_leases("dead") == 1
    claimed = store.claim("w2", MODELS, 3600, 3)
    assert claimed is not None and claimed.id == gen.id


def test_cancel_queued_processing_and_terminal(store: SqliteStore) -> None:
    queued, running = make_gen(), make_gen()
    store.insert_generations([running, queued])
    store.claim("w1", MODELS, 30, 3)
    assert store.request_cancel(queued.id, "key_a").status is Status.CANCELLED  # type: ignore[union-attr]
    flagged = store.request_cancel(running.id, "key_a")
    assert flagged is not None and flagged.status is Status.PROCESSING and flagged.cancel_requested
    assert store.is_cancel_requested(running.id)
    assert store.finish(running, "w1", Status.CANCELLED)
    assert store.request_cancel(running.id, "key_a").status is Status.CANCELLED  # type: ignore[union-attr]
    assert store.request_cancel(running.id, "someone_else") is None
    types = [e.type for e in store.events_after("key_a", 0)]
    assert types.count("media_generation_cancelled") == 2


def test_requeue_does_not_count_the_attempt(store: SqliteStore) -> None:
    gen = make_gen()
    store.insert_generations([gen])
    store.claim("w1", MODELS, 30, 3)
    assert store.requeue(gen, "w1")
    again = store.claim("w2", MODELS, 30, 3)
    assert again is not None and again.attempts == 1


def test_events_are_per_owner_and_ordered(store: SqliteStore) -> None:
    mine, theirs = make_gen("key_a"), make_gen("key_b")
    store.insert_generations([mine, theirs])
    store.claim("w1", MODELS, 30, 3)
    store.claim("w1", MODELS, 30, 3)
    assert store.report_progress(mine, "w1", 1, 2, "denoising", emit=True)
    assert store.report_progress(mine, "w1", 2, 2, "decoding", emit=False)
    assert store.finish(mine, "w1", Status.SUCCEEDED, result_key="outputs/a.png")
    events = store.events_after("key_a", 0)
    assert [e.type for e in events] == [
        "media_generation_started",
        "media_generation_progress",
        "media_generation_completed",
    ]
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert all(e.generation_id == mine.id for e in events)
    assert store.events_after("key_a", events[1].id)[0].type == "media_generation_completed"
    assert store.last_event_id("key_a") == events[-1].id
    assert [e.type for e in store.events_after("key_b", 0)] == ["media_generation_started"]


def test_list_filters_and_pagination(store: SqliteStore) -> None:
    gens = [make_gen() for _ in range(5)]
    store.insert_generations(gens)
    store.claim("w1", MODELS, 30, 3)
    page, total = store.list_generations("key_a", limit=2, offset=0)
    assert total == 5 and [g.id for g in page] == [gens[4].id, gens[3].id]
    active, count = store.list_generations("key_a", statuses=[Status.PROCESSING])
    assert count == 1 and active[0].id == gens[0].id
    assert store.count_active("key_a") == 5
    assert store.list_generations("key_b")[1] == 0
