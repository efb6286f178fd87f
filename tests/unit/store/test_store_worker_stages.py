"""A worker's start-up stage goes through the store on SQLite and on PostgreSQL: written,
replaced, kept by the worker's own updates, read back by any node."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.postgres import fresh_database, require_postgres

from editserve.store import Store
from editserve.store.postgres import PostgresStore
from editserve.store.rows import WorkerRow, WorkerState
from editserve.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened: Store = SqliteStore(tmp_path / "stages.db")
        yield opened
        opened.close()
        return
    require_postgres()
    with fresh_database() as url:
        opened = PostgresStore(url)
        yield opened
        opened.close()


def worker(state: WorkerState, **fields: object) -> WorkerRow:
    now = time.time()
    return WorkerRow(
        id="gpu-host-1",
        host="gpu-host",
        pid=4242,
        device="cuda:0",
        state=state,
        started_at=now,
        heartbeat_at=now,
        model="some-model",
        **fields,  # type: ignore[arg-type]
    )


def test_stages_are_written_and_read_back(store: Store) -> None:
    store.upsert_worker(worker(WorkerState.LOADING, stage="starting"))
    (row,) = store.list_workers()
    assert (row.stage, row.stage_detail) == ("starting", None)

    figures = {"bytes_done": 1_000_000, "bytes_total": 57_700_000_000, "file": "vae/x.safetensors"}
    store.report_worker_stage("gpu-host-1", "downloading", figures)
    (row,) = store.list_workers(fresh_within=30)
    assert (row.state, row.stage, row.stage_detail) == (WorkerState.LOADING, "downloading", figures)

    store.report_worker_stage("gpu-host-1", "loading", {"component": "vae", "index": 1, "count": 6})
    store.worker_heartbeat("gpu-host-1")  # a heartbeat leaves the stage alone
    (row,) = store.list_workers()
    assert row.stage == "loading" and row.stage_detail == {
        "component": "vae",
        "index": 1,
        "count": 6,
    }


def test_the_final_stage_comes_with_the_worker_row(store: Store) -> None:
    store.upsert_worker(worker(WorkerState.LOADING, stage="starting"))
    store.report_worker_stage("gpu-host-1", "warming_up", {"run": 1, "runs": 1})
    store.upsert_worker(
        worker(WorkerState.FAILED, stage="failed", stage_detail={"reason": "OOM"}, error="OOM")
    )
    (row,) = store.list_workers()
    assert (row.state, row.stage, row.stage_detail, row.error) == (
        WorkerState.FAILED,
        "failed",
        {"reason": "OOM"},
        "OOM",
    )


def test_a_stage_for_an_unknown_worker_is_ignored(store: Store) -> None:
    store.report_worker_stage("nobody", "loading", {})
    assert store.list_workers() == []
