"""Retention on both stores (and both storages for the main case): `editserve prune`'s
Pruner deletes old ended generations with their events, webhook deliveries and blobs,
stale uploads and old events, in batches, one node at a time, and never anything a live
generation uses; the per-key counts and history pages stay exact."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fixtures.s3 import S3Server, aws_env
from fixtures.store import MODELS, make_gen
from fixtures.store_targets import StoreTarget
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from editserve.blobs import BlobStorage, LocalStorage, S3Storage
from editserve.domain.record import Generation, Status
from editserve.services.retention.metrics import retention_metrics
from editserve.services.retention.prune import Pruner
from editserve.store import Store
from editserve.store.rows import UploadRow

DAY = 86400.0
OLD = 40 * DAY  # the rows the tests age are this old; they prune at 30 days


def run_sql(target: StoreTarget, sql: str, params: tuple[Any, ...]) -> None:
    """A statement straight on the database (to age rows: no API ages them)."""
    if target.kind == "sqlite":
        with sqlite3.connect(target.location) as conn:
            conn.execute(sql.replace("%s", "?"), params)
        return
    with psycopg.connect(target.location, autocommit=True) as conn:
        conn.execute(sql.encode(), params)


def backdate(target: StoreTarget, gens: list[Generation], seconds: float = OLD) -> None:
    """Make generations (and their events) look ``seconds`` older."""
    for gen in gens:
        run_sql(
            target,
            "UPDATE generations SET enqueued_at = enqueued_at - %s, "
            "completed_at = completed_at - %s WHERE id = %s",
            (seconds, seconds, gen.id),
        )
        run_sql(
            target,
            "UPDATE events SET created_at = created_at - %s WHERE generation_id = %s",
            (seconds, gen.id),
        )


def finish(store: Store, status: Status, **result: Any) -> Generation:
    [gen] = store.claim_batch("w1", MODELS, 30, 3, 1)
    assert store.finish(gen, "w1", status, **result)
    return gen


def stored_input(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "sha256": key.split("/")[-1].split(".")[0],
        "content_type": "image/png",
        "format": "PNG",
        "width": 8,
        "height": 8,
        "size": 3,
    }


def upload(store: Store, upload_id: str, key: str, age: float = 0.0) -> None:
    store.insert_upload(
        UploadRow(
            id=upload_id,
            owner="key_a",
            created_at=time.time() - age,
            **{name: value for name, value in stored_input(key).items()},
        )
    )


@pytest.fixture(params=["local", "s3"])
def storage(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BlobStorage]:
    if request.param == "local":
        yield LocalStorage(tmp_path / "files")
        return
    for name, value in aws_env().items():
        monkeypatch.setenv(name, value)
    server: S3Server = request.getfixturevalue("s3_server")
    yield S3Storage(server.create_bucket(), "node", endpoint_url=server.endpoint_url)


def put(storage: BlobStorage, *keys: str) -> None:
    for key in keys:
        storage.put(key, b"img", "image/png")


def test_old_generations_go_with_their_rows_and_blobs_and_live_ones_keep_theirs(
    target: StoreTarget, storage: BlobStorage
) -> None:
    store = target.open()
    shared, lone = "inputs/aaa.png", "inputs/bbb.png"
    put(storage, shared, lone, "outputs/old.png", "outputs/new.png")
    hook: dict[str, Any] = {
        "webhook": "https://hooks.example/a",
        "webhook_events": ["start", "completed"],
    }
    old = make_gen(inputs=[stored_input(shared)], **hook)
    store.insert_generations([old])
    old = finish(store, Status.SUCCEEDED, result_key="outputs/old.png")
    failed = make_gen(inputs=[stored_input(lone)])
    store.insert_generations([failed])
    failed = finish(store, Status.FAILED, error_message="boom")
    recent = make_gen(inputs=[stored_input(lone)])
    store.insert_generations([recent])
    recent = finish(store, Status.SUCCEEDED, result_key="outputs/new.png")
    live = make_gen(inputs=[stored_input(shared)])  # queued, sharing the old one's input
    store.insert_generations([live])
    backdate(target, [old, failed])
    old_events = [e.id for e in store.events_after_any(0) if e.generation_id in (old.id, failed.id)]
    assert len(old_events) == 4 and store.deliveries_of([old.id])

    dry = Pruner(store, storage).run(30, dry_run=True)
    report = Pruner(store, storage, batch=1).run(30)

    assert report.ran and report.counts == {
        "generations": 2,
        "outputs": 1,
        "inputs": 0,  # the shared input is the live one's; the lone one the recent one's
        "uploads": 0,
        "events": 4,
        "webhook_deliveries": 2,
    }
    assert dry.counts == report.counts
    assert store.get_generation(old.id) is None and store.get_generation(failed.id) is None
    assert store.get_generation(live.id) is not None and store.get_generation(recent.id)
    assert not storage.exists("outputs/old.png") and storage.exists("outputs/new.png")
    assert storage.exists(shared) and storage.exists(lone)
    assert store.deliveries_of([old.id]) == {}
    assert not {e.id for e in store.events_after_any(0)} & set(old_events)
    assert store.pruned_totals()["generations"] == 2

    # The recent one ages too: now the lone input goes with it; the live one's stays.
    backdate(target, [recent])
    again = Pruner(store, storage).run(30)
    assert again.counts["generations"] == 1 and again.counts["inputs"] == 1
    assert not storage.exists(lone) and storage.exists(shared)
    assert store.get_generation(live.id) is not None
    assert store.pruned_totals()["inputs"] == 1


def test_counts_and_pages_stay_exact_after_a_prune(target: StoreTarget, tmp_path: Path) -> None:
    store = target.open()
    storage = LocalStorage(tmp_path / "files")
    ended = []
    for status in (Status.SUCCEEDED, Status.FAILED, Status.SUCCEEDED, Status.SUCCEEDED):
        store.insert_generations([make_gen()])
        ended.append(finish(store, status))
    store.insert_generations([make_gen(owner="key_b")])
    finish(store, Status.SUCCEEDED)
    kept = make_gen()
    store.insert_generations([kept])  # queued
    backdate(target, ended[:3])

    report = Pruner(store, storage, batch=2).run(30)

    assert report.counts["generations"] == 3
    assert store.count_generations("key_a") == 2
    assert store.count_generations("key_a", [Status.SUCCEEDED]) == 1
    assert store.count_generations("key_a", [Status.FAILED]) == 0
    assert store.count_generations("key_b") == 1
    page, total = store.list_generations("key_a", limit=10)
    assert total == 2 and [g.id for g in page] == [kept.id, ended[3].id]
    oldest, _ = store.list_generations("key_a", limit=1, newest_first=False)
    assert [g.id for g in oldest] == [ended[3].id]
    second, _ = store.list_generations("key_a", limit=1, offset=1, newest_first=False)
    assert [g.id for g in second] == [kept.id]
    assert store.status_counts()[("qwen-image-edit-plus", "succeeded")] == 2
    store.insert_generations([make_gen()])  # numbering goes on after the pruned ones
    assert store.list_generations("key_a", limit=10)[1] == 3


def test_a_live_generation_keeps_the_later_old_ones_of_its_key(
    target: StoreTarget, tmp_path: Path
) -> None:
    """Only a run from a key's oldest goes (numbers stay contiguous): an old generation
    after a live one waits until the live one ends and ages too."""
    store = target.open()
    storage = LocalStorage(tmp_path / "files")
    store.insert_generations([make_gen()])
    held = finish(store, Status.SUCCEEDED)
    [running] = [make_gen()]
    store.insert_generations([running])
    [claimed] = store.claim_batch("w1", MODELS, 30, 3, 1)
    store.insert_generations([make_gen()])
    after = finish(store, Status.CANCELLED)
    backdate(target, [held, claimed, after])

    report = Pruner(store, storage).run(30)

    assert report.counts["generations"] == 1  # held; not `after` (behind the running one)
    assert store.get_generation(after.id) is not None
    started = [e for e in store.events_after_any(0) if e.generation_id == claimed.id]
    assert started  # a live generation's events stay, however old
    assert store.count_generations("key_a") == 2


def test_stale_uploads_go_and_their_blob_stays_while_used(
    target: StoreTarget, tmp_path: Path
) -> None:
    store = target.open()
    storage = LocalStorage(tmp_path / "files")
    put(storage, "inputs/used.png", "inputs/stale.png", "inputs/fresh.png")
    upload(store, "upl_used", "inputs/used.png", age=OLD)
    upload(store, "upl_stale", "inputs/stale.png", age=OLD)
    upload(store, "upl_fresh", "inputs/fresh.png")
    store.insert_generations([make_gen(inputs=[stored_input("inputs/used.png")])])

    dry = Pruner(store, storage).run(30, dry_run=True)
    assert dry.counts["uploads"] == 2 and dry.counts["inputs"] == 1
    assert store.get_upload("upl_stale", "key_a") is not None  # a dry run deletes nothing

    report = Pruner(store, storage).run(30)

    assert report.counts["uploads"] == 2 and report.counts["inputs"] == 1
    assert store.get_upload("upl_used", "key_a") is None
    assert store.get_upload("upl_stale", "key_a") is None
    assert store.get_upload("upl_fresh", "key_a") is not None
    assert storage.exists("inputs/used.png") and storage.exists("inputs/fresh.png")
    assert not storage.exists("inputs/stale.png")


def test_a_dry_run_counts_what_the_prune_then_deletes(target: StoreTarget, tmp_path: Path) -> None:
    store = target.open()
    storage = LocalStorage(tmp_path / "files")
    put(storage, "inputs/x.png", "outputs/a.png")
    gens = []
    for n in range(5):
        store.insert_generations([make_gen(inputs=[stored_input("inputs/x.png")])])
        gens.append(finish(store, Status.SUCCEEDED, result_key="outputs/a.png" if n else None))
    backdate(target, gens)
    events_before = len(store.events_after_any(0))

    dry = Pruner(store, storage, batch=2).run(30, dry_run=True)
    assert len(store.events_after_any(0)) == events_before and storage.exists("inputs/x.png")
    real = Pruner(store, storage, batch=2).run(30)

    assert dry.counts["generations"] == real.counts["generations"] == 5
    assert dry.counts["inputs"] == real.counts["inputs"] == 1
    assert dry.counts["events"] == real.counts["events"] == events_before
    assert real.counts["outputs"] == 1 and not storage.exists("outputs/a.png")


def test_one_node_prunes_at_a_time(target: StoreTarget, tmp_path: Path) -> None:
    store, other = target.open(), target.open()
    storage = LocalStorage(tmp_path / "files")
    store.insert_generations([make_gen()])
    gen = finish(store, Status.SUCCEEDED)
    backdate(target, [gen])
    assert other.take_prune_lease("node-b", 300)

    busy = Pruner(store, storage, holder="node-a").run(30)
    assert not busy.ran and busy.holder == "node-b"
    assert store.get_generation(gen.id) is not None
    assert other.take_prune_lease("node-b", 300)  # still its own: renewed

    other.release_prune_lease("node-b", finished=False)
    done = Pruner(store, storage, holder="node-a").run(30)
    assert done.ran and store.get_generation(gen.id) is None
    lease = other.prune_lease()
    assert lease.holder is None and lease.last_finished_at is not None
    assert other.take_prune_lease("node-b", -1)  # taken, but expired at once: takeable
    assert store.take_prune_lease("node-a", 300)


def test_blobs_noted_by_a_prune_that_died_are_deleted_by_the_next(
    target: StoreTarget, tmp_path: Path
) -> None:
    store = target.open()
    storage = LocalStorage(tmp_path / "files")
    put(storage, "outputs/a.png", "inputs/a.png")
    store.insert_generations([make_gen(inputs=[stored_input("inputs/a.png")])])
    gen = finish(store, Status.SUCCEEDED, result_key="outputs/a.png")
    backdate(target, [gen])
    # What a prune that died after its transaction leaves: rows gone, blobs noted.
    assert store.delete_generations([gen.id], time.time() - 30 * DAY)["generations"] == 1
    assert store.get_generation(gen.id) is None and storage.exists("outputs/a.png")
    assert sorted(store.pending_blobs(10)) == [
        ("inputs/a.png", "inputs"),
        ("outputs/a.png", "outputs"),
    ]

    report = Pruner(store, storage).run(30)

    assert report.counts["outputs"] == 1 and report.counts["inputs"] == 1
    assert not storage.exists("outputs/a.png") and not storage.exists("inputs/a.png")
    assert store.pending_blobs(10) == []


def test_metrics_show_the_totals_and_the_last_prune(target: StoreTarget, tmp_path: Path) -> None:
    store = target.open()
    storage = LocalStorage(tmp_path / "files")

    class Retention(Collector):
        def collect(self) -> Iterator[Any]:
            return retention_metrics(store)

    registry = CollectorRegistry()
    registry.register(Retention())
    before = generate_latest(registry).decode()
    assert 'editserve_pruned_total{kind="generations"} 0.0' in before
    assert "editserve_last_prune_timestamp_seconds" not in before
    store.insert_generations([make_gen()])
    gen = finish(store, Status.SUCCEEDED)
    backdate(target, [gen])
    Pruner(store, storage).run(30)
    after = generate_latest(registry).decode()
    assert 'editserve_pruned_total{kind="generations"} 1.0' in after
    assert 'editserve_pruned_total{kind="events"} 2.0' in after
    assert "editserve_last_prune_timestamp_seconds " in after


def test_two_nodes_pruning_at_once_delete_each_row_once(
    target: StoreTarget, tmp_path: Path
) -> None:
    stores = [target.open(), target.open()]
    storage = LocalStorage(tmp_path / "files")
    gens = []
    for n in range(12):
        put(storage, f"outputs/{n}.png")
        stores[0].insert_generations([make_gen(owner=f"key_{n % 3}")])
        gens.append(finish(stores[0], Status.SUCCEEDED, result_key=f"outputs/{n}.png"))
    backdate(target, gens)
    pruners = [
        Pruner(store, storage, batch=2, holder=f"node-{i}") for i, store in enumerate(stores)
    ]

    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda pruner: pruner.run(30), pruners))

    assert sum(r.counts["generations"] for r in reports) == 12
    assert sum(r.counts["outputs"] for r in reports) == 12
    assert all(r.ran or r.holder in ("node-0", "node-1") for r in reports)
    assert stores[1].pruned_totals()["generations"] == 12
    assert all(stores[0].count_generations(f"key_{n}") == 0 for n in range(3))
