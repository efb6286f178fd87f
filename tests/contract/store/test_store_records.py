"""The store contract, on SQLite and on PostgreSQL: events, reads, keys, uploads, workers,
and opening a store by URL."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from fixtures.postgres import fresh_database
from fixtures.store import MODEL, MODELS, make_gen
from fixtures.store_targets import StoreTarget

from editserve.domain.record import Generation, Status
from editserve.store import Store, is_store_unavailable, open_store
from editserve.store.rows import ApiKeyRow, UploadRow, WorkerRow, WorkerState


def test_events_are_per_owner_and_ordered(store: Store) -> None:
    mine, theirs = make_gen("key_a"), make_gen("key_b")
    store.insert_generations([mine, theirs])
    store.claim("w1", MODELS, 30, 3)
    store.claim("w1", MODELS, 30, 3)
    assert store.report_progress([mine], "w1", 1, 2, "denoising", emit=True) == {mine.id: False}
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


def stored_events(target: StoreTarget) -> list[tuple[str, str]]:
    """(type, data) as the events table holds them: the text SSE clients receive."""
    query = "SELECT type, data FROM events ORDER BY id"
    if target.kind == "sqlite":
        conn = sqlite3.connect(target.location)
        try:
            return [(row[0], row[1]) for row in conn.execute(query)]
        finally:
            conn.close()
    with psycopg.connect(target.location) as pg:
        return [(row[0], row[1]) for row in pg.execute(query)]


def test_event_json_is_stored_byte_for_byte(target: StoreTarget) -> None:
    store = target.open()
    ok, bad, queued = make_gen(), make_gen(), make_gen()
    store.insert_generations([ok, bad, queued])
    store.claim_batch("w1", MODELS, 30, 3, 1)
    store.claim_batch("w1", MODELS, 30, 3, 1)
    store.report_progress([ok], "w1", 1, 2, "denoising", emit=True)
    store.finish(ok, "w1", Status.SUCCEEDED, result_key="outputs/a.png")
    store.finish(bad, "w1", Status.FAILED, error_message='say "no"')
    store.request_cancel(queued.id, "key_a")

    def about(gen: Generation) -> str:
        return f'{{"generation_id":"{gen.id}","media_type":"image","model":"{MODEL}",'

    assert stored_events(target) == [
        ("media_generation_started", about(ok) + '"status":"processing","attempt":1}'),
        ("media_generation_started", about(bad) + '"status":"processing","attempt":1}'),
        (
            "media_generation_progress",
            about(ok) + '"status":"processing","step":1,"total":2,"stage":"denoising"}',
        ),
        (
            "media_generation_completed",
            about(ok) + '"status":"succeeded","result_key":"outputs/a.png"}',
        ),
        ("media_generation_completed", about(bad) + '"status":"failed","error":"say \\"no\\""}'),
        ("media_generation_cancelled", about(queued) + '"status":"cancelled"}'),
    ]


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


def test_recent_step_seconds_divides_run_time_by_steps_and_megapixels(store: Store) -> None:
    """Seconds per denoising step of one output megapixel: only runs that reported their
    steps count (a run without progress says nothing of its work)."""
    unreported = make_gen(model="other")
    store.insert_generations([unreported])
    claimed = store.claim("w1", ["other"], 30, 3)
    assert claimed is not None
    store.finish(claimed, "w1", Status.SUCCEEDED, result_key="outputs/x.png")
    assert store.recent_run_seconds("other") is not None
    assert store.recent_step_seconds("other") is None

    assert store.recent_step_seconds(MODEL) is None
    store.insert_generations([make_gen(width=500, height=400, area=200_000)])
    claimed = store.claim("w1", MODELS, 30, 3)
    assert claimed is not None
    store.report_progress([claimed], "w1", 4, 5, "denoising", emit=False)
    time.sleep(0.05)
    store.finish(claimed, "w1", Status.SUCCEEDED, result_key="outputs/y.png")
    per_run = store.recent_run_seconds(MODEL)
    per_step = store.recent_step_seconds(MODEL)
    assert per_run is not None and per_run > 0 and per_step is not None
    assert per_step == pytest.approx(per_run / (5 * 0.2))  # 5 steps of 0.2 megapixels


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
        state=WorkerState.LOADING,
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
        state=WorkerState.READY,
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
            state=WorkerState.FAILED,
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
    assert again[0].state is WorkerState.FAILED  # read back as the enum
    assert again[0].started_at == now
    store.worker_heartbeat("host-1", WorkerState.READY)
    store.worker_heartbeat("host-1")
    store.worker_heartbeat("ghost", WorkerState.BUSY)  # unknown workers are ignored
    beat = store.list_workers(fresh_within=60)[0]
    assert beat.state == "ready" and beat.heartbeat_at >= now


# --- opening -------------------------------------------------------------------------------------


def test_open_store_picks_the_store_by_url_scheme(tmp_path: Path, pg_template: str) -> None:
    from editserve.core.settings import Settings
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
