"""The store contract, on SQLite and on PostgreSQL: claims, leases, reaping, cancel, batches,
events, reads, keys, uploads, workers and migrations. Both stores must pass every test the
same way, including the exact event payloads."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from postgres_support import fresh_database
from store_targets import StoreTarget

from editserve.generations.record import Event, Generation, Status
from editserve.store.base import (
    ApiKeyRow,
    Store,
    UploadRow,
    WorkerRow,
    is_store_unavailable,
    open_store,
)
from editserve.store.postgres import migrate

MODEL = "qwen-image-edit-plus"
MODELS = [MODEL]


def make_gen(owner: str = "key_a", **overrides: Any) -> Generation:
    values: dict[str, Any] = dict(
        id=str(uuid.uuid4()),
        owner=owner,
        model=MODEL,
        status=Status.QUEUED,
        params={"prompt": "p", "input_image": ["x"]},
        inputs=[],
        batch_id=str(uuid.uuid4()),
        batch_index=0,
        seed=1,
        width=64,
        height=64,
        area=4096,
        enqueued_at=time.time(),
    )
    values.update(overrides)
    return Generation(**values)


def reload(store: Store, gen: Generation) -> Generation:
    found = store.get_generation(gen.id)
    assert found is not None
    return found


def payloads(events: list[Event]) -> list[tuple[str, dict[str, Any]]]:
    return [(event.type, event.data) for event in events]


# --- migrations and schema ---------------------------------------------------------------


def schema_of(target: StoreTarget) -> dict[str, Any]:
    """Tables → column names (and, per store, index names): what the migrations built."""
    tables: dict[str, Any] = {}
    if target.kind == "sqlite":
        conn = sqlite3.connect(target.location)
        try:
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            ]
            for name in names:
                tables[name] = sorted(row[1] for row in conn.execute(f"PRAGMA table_info({name})"))
            indexes = sorted(
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'index' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            )
        finally:
            conn.close()
    else:
        with psycopg.connect(target.location) as pg:
            for table, column in pg.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            ):
                tables.setdefault(table, []).append(column)
            tables = {table: sorted(columns) for table, columns in tables.items()}
            indexes = sorted(
                row[0]
                for row in pg.execute(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
                )
            )
    return {"tables": tables, "indexes": indexes}


def migration_versions(target: StoreTarget) -> list[int]:
    if target.kind == "sqlite":
        conn = sqlite3.connect(target.location)
        try:
            return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
        finally:
            conn.close()
    with psycopg.connect(target.location) as pg:
        return [r[0] for r in pg.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def test_migrations_applied_twice_are_a_no_op(target: StoreTarget) -> None:
    first = target.open()
    first.insert_generations([make_gen()])
    before = schema_of(target)
    again = target.open()
    assert schema_of(target) == before
    assert migration_versions(target) == [1]
    assert again.count_active("key_a") == 1  # nothing was recreated
    if target.kind == "postgres":
        assert migrate(target.location) == []


def test_concurrent_opens_of_an_empty_database_all_succeed(
    fresh_target: Callable[[bool], StoreTarget],
) -> None:
    target = fresh_target(False)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_one() -> None:
        barrier.wait()
        try:
            target.open().count_active_keys()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert migration_versions(target) == [1]


def test_both_stores_build_the_same_tables(tmp_path: Path, pg_template: str) -> None:
    lite = StoreTarget("sqlite", str(tmp_path / "db.sqlite"))
    lite.open()
    try:
        with fresh_database(pg_template) as url:
            pg_schema = schema_of(StoreTarget("postgres", url))
    finally:
        lite.close_all()
    assert schema_of(lite)["tables"] == pg_schema["tables"]


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
    assert not store.report_progress(gen, "w1", 1, 2, "denoising", emit=True)
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
    assert store.report_progress(gen, "w1", 1, 4, "denoising", emit=False)
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


# --- progress, finish, events ------------------------------------------------------------------


def test_progress_and_finish_are_recorded_with_their_events(store: Store) -> None:
    ok, bad, anon = make_gen(), make_gen(), make_gen()
    store.insert_generations([ok, bad, anon])
    for _ in range(3):
        store.claim("w1", MODELS, 30, 3)
    assert store.report_progress(ok, "w1", 1, 2, "denoising", emit=True)
    assert store.report_progress(ok, "w1", 2, 2, "decoding", emit=False)
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


def test_events_are_per_owner_and_ordered(store: Store) -> None:
    mine, theirs = make_gen("key_a"), make_gen("key_b")
    store.insert_generations([mine, theirs])
    store.claim("w1", MODELS, 30, 3)
    store.claim("w1", MODELS, 30, 3)
    assert store.report_progress(mine, "w1", 1, 2, "denoising", emit=True)
    assert store.finish(mine, "w1", Status.SUCCEEDED, result_key="outputs/a.png")
    events = store.events_after("key_a", 0)
    assert [e.type for e in events] == [
        "media_generation_started",
        "media_generation_progress",
        "media_generation_completed",
    ]
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert all(e.generation_id == mine.id and e.owner == "key_a" for e in events)
    assert all(e.created_at > 0 for e in events)
    assert store.events_after("key_a", events[1].id)[0].type == "media_generation_completed"
    assert [e.id for e in store.events_after("key_a", 0, limit=2)] == [e.id for e in events[:2]]
    assert store.events_after("key_a", events[-1].id) == []
    assert store.last_event_id("key_a") == events[-1].id
    assert store.last_event_id("nobody") == 0
    assert [e.type for e in store.events_after("key_b", 0)] == ["media_generation_started"]


async def test_wait_for_events_is_a_hint_that_never_replaces_polling(
    target: StoreTarget,
) -> None:
    reader, writer = target.open(), target.open()
    hinted = target.kind == "postgres"  # NOTIFY; SQLite has no cross-process hint
    after = reader.last_event_id("key_a")
    assert await reader.wait_for_events("key_a", after, 0.2) is False  # nothing happened
    writer.insert_generations([make_gen()])
    waiting = asyncio.ensure_future(reader.wait_for_events("key_a", after, 10 if hinted else 0.2))
    await asyncio.sleep(0.05)
    await asyncio.to_thread(writer.claim, "w1", MODELS, 30, 3)
    assert await waiting is hinted
    # a hint that came before the wait is not lost
    assert await reader.wait_for_events("key_a", after, 10 if hinted else 0.2) is hinted
    assert await reader.wait_for_events("key_b", 0, 0.2) is False  # another owner's events
    assert [e.type for e in reader.events_after("key_a", after)] == ["media_generation_started"]


# --- reads -------------------------------------------------------------------------------------


def test_get_is_scoped_to_its_owner(store: Store) -> None:
    gen = make_gen(target_namespace="ns", idempotency_key="k", request_hash="h", priority=2)
    store.insert_generations([gen])
    found = store.get_generation(gen.id, "key_a")
    assert found is not None and found == gen  # every field round-trips
    assert store.get_generation(gen.id, "key_b") is None
    assert store.get_generation(str(uuid.uuid4())) is None


def test_list_filters_and_pagination(store: Store) -> None:
    gens = [make_gen() for _ in range(5)]
    other_model = make_gen(model="other")
    store.insert_generations(gens)
    store.insert_generations([other_model, make_gen("key_b")])
    store.claim("w1", MODELS, 30, 3)
    page, total = store.list_generations("key_a", limit=2, offset=0)
    assert total == 6 and [g.id for g in page] == [other_model.id, gens[4].id]
    page, total = store.list_generations("key_a", limit=2, offset=2, model=MODEL)
    assert total == 5 and [g.id for g in page] == [gens[2].id, gens[1].id]
    oldest, _ = store.list_generations("key_a", limit=2, newest_first=False)
    assert [g.id for g in oldest] == [gens[0].id, gens[1].id]
    active, count = store.list_generations("key_a", statuses=[Status.PROCESSING])
    assert count == 1 and active[0].id == gens[0].id
    both, count = store.list_generations("key_a", statuses=[Status.QUEUED, Status.PROCESSING])
    assert count == 6 and len(both) == 6
    _, count = store.list_generations("key_a", statuses=[], model="")  # empty = no filter
    assert count == 6
    assert store.list_generations("key_a", statuses=[Status.SUCCEEDED]) == ([], 0)
    assert store.count_active("key_a") == 6
    assert store.count_active("key_b") == 1
    assert store.list_generations("key_c") == ([], 0)


def test_idempotency_lookup_is_per_owner_in_order(store: Store) -> None:
    gens = [make_gen(idempotency_key="k1", batch_index=i) for i in range(2)]
    store.insert_generations(gens)
    store.insert_generations(
        [make_gen(idempotency_key="k2"), make_gen("key_b", idempotency_key="k1")]
    )
    assert [g.id for g in store.by_idempotency_key("key_a", "k1")] == [g.id for g in gens]
    assert store.by_idempotency_key("key_a", "nope") == []
    assert len(store.by_idempotency_key("key_b", "k1")) == 1


def test_status_counts_and_recent_run_seconds(store: Store) -> None:
    gens = [make_gen() for _ in range(3)]
    store.insert_generations([*gens, make_gen(model="other")])
    assert store.recent_run_seconds(MODEL) is None
    for _ in range(2):
        claimed = store.claim("w1", MODELS, 30, 3)
        assert claimed is not None
        store.finish(claimed, "w1", Status.SUCCEEDED, result_key="outputs/x.png")
    assert store.status_counts() == {
        (MODEL, "succeeded"): 2,
        (MODEL, "queued"): 1,
        ("other", "queued"): 1,
    }
    seconds = store.recent_run_seconds(MODEL)
    assert seconds is not None and seconds >= 0
    assert store.recent_run_seconds("other") is None


# --- keys, uploads, workers --------------------------------------------------------------------


def test_keys_create_look_up_and_revoke(store: Store) -> None:
    now = time.time()
    first = ApiKeyRow(id="key_1", name="ci", prefix="es_ab", key_hash="h1", created_at=now)
    second = ApiKeyRow(id="key_2", name="me", prefix="es_cd", key_hash="h2", created_at=now + 1)
    store.insert_key(first)
    store.insert_key(second)
    assert store.key_by_hash("h1") == first
    assert store.key_by_hash("nope") is None
    assert store.list_keys() == [first, second]
    assert store.count_active_keys() == 2
    assert store.revoke_key("key_1")
    assert not store.revoke_key("key_1")
    assert not store.revoke_key("key_404")
    assert store.key_by_hash("h1") is None
    assert store.count_active_keys() == 1
    revoked = store.list_keys()[0]
    assert revoked.id == "key_1" and revoked.revoked_at is not None


def test_uploads_are_scoped_to_their_owner(store: Store) -> None:
    upload = UploadRow(
        id="up_1",
        owner="key_a",
        key="uploads/up_1.png",
        sha256="0" * 64,
        content_type="image/png",
        format="png",
        width=48,
        height=32,
        size=1234,
        created_at=time.time(),
    )
    store.insert_upload(upload)
    assert store.get_upload("up_1", "key_a") == upload
    assert store.get_upload("up_1", "key_b") is None
    assert store.get_upload("up_2", "key_a") is None


def test_workers_register_beat_and_go_stale(store: Store) -> None:
    now = time.time()
    row = WorkerRow(
        id="host-1",
        host="host",
        pid=10,
        device="cpu",
        state="loading",
        started_at=now,
        heartbeat_at=now,
        model=MODEL,
        weights={"source": "tiny-random", "is_tiny": True},
    )
    stale = WorkerRow(
        id="host-0",
        host="old",
        pid=9,
        device="cuda:0",
        state="ready",
        started_at=now - 7200,
        heartbeat_at=now - 3600,
    )
    store.upsert_worker(row)
    store.upsert_worker(stale)
    assert store.list_workers() == [stale, row]
    store.upsert_worker(
        WorkerRow(
            id="host-1",
            host="host",
            pid=11,
            device="cpu",
            state="failed",
            started_at=now + 5,  # kept from the first registration
            heartbeat_at=now,
            model=MODEL,
            error="could not load",
        )
    )
    again = store.list_workers(fresh_within=60)
    assert [w.id for w in again] == ["host-1"]
    assert (again[0].state, again[0].pid, again[0].error, again[0].weights) == (
        "failed",
        11,
        "could not load",
        None,
    )
    assert again[0].started_at == now
    store.worker_heartbeat("host-1", "ready")
    store.worker_heartbeat("host-1")
    store.worker_heartbeat("ghost", "busy")  # unknown workers are ignored
    beat = store.list_workers(fresh_within=60)[0]
    assert beat.state == "ready" and beat.heartbeat_at >= now


# --- opening -------------------------------------------------------------------------------------


def test_open_store_picks_the_store_by_url_scheme(tmp_path: Path, pg_template: str) -> None:
    from editserve.config import Settings
    from editserve.store.postgres import PostgresStore
    from editserve.store.sqlite import SqliteStore

    default = open_store(Settings(data_dir=tmp_path))
    assert isinstance(default, SqliteStore) and default.path == tmp_path / "editserve.db"
    default.close()
    with fresh_database(pg_template) as url:
        for scheme in ("postgresql://", "postgres://"):
            opened = open_store(
                Settings(data_dir=tmp_path, database_url=scheme + url.split("://", 1)[1])
            )
            assert isinstance(opened, PostgresStore)
            opened.close()
    with pytest.raises(ValueError, match="unsupported scheme"):
        open_store(Settings(data_dir=tmp_path, database_url="mysql://db/x"))


def test_busy_or_unreachable_databases_are_recognised() -> None:
    assert is_store_unavailable(sqlite3.OperationalError("database is locked"))
    assert is_store_unavailable(psycopg.OperationalError("connection failed"))
    assert not is_store_unavailable(psycopg.errors.UniqueViolation("duplicate key"))
    assert not is_store_unavailable(ValueError("nope"))
