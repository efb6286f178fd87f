"""`editserve status`: models, workers, devices, stages and queue depth, read from the store
(no API, no key): once, as JSON, and refreshed until Ctrl-C."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from editserve.commands.main import main
from editserve.commands.status.run import render, run_status, snapshot
from editserve.domain.record import Generation, Status
from editserve.models.registry import default_registry
from editserve.store.rows import WorkerRow, WorkerState
from editserve.store.sqlite import SqliteStore

MODEL = default_registry().default.id


def queued(store: SqliteStore, count: int) -> None:
    batch = str(uuid.uuid4())
    store.insert_generations(
        [
            Generation(
                id=str(uuid.uuid4()),
                owner=f"key_{index}",
                model=MODEL,
                status=Status.QUEUED,
                params={"prompt": "hat", "input_image": ["x"]},
                inputs=[],
                batch_id=batch,
                batch_index=index,
                seed=index,
                width=64,
                height=64,
                area=4096,
                enqueued_at=time.time(),
            )
            for index in range(count)
        ]
    )


def worker(worker_id: str, state: WorkerState, age: float = 0.0, **fields: Any) -> WorkerRow:
    now = time.time()
    return WorkerRow(
        id=worker_id,
        host="gpu-host",
        pid=7,
        device="cuda:0",
        state=state,
        started_at=now - 60,
        heartbeat_at=now - age,
        model=MODEL,
        **fields,
    )


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    opened = SqliteStore(tmp_path / "editserve.db")
    queued(opened, 3)
    figures = {"bytes_done": 1_200_000_000, "bytes_total": 57_700_000_000}
    opened.upsert_worker(
        worker("w-dl", WorkerState.LOADING, stage="downloading", stage_detail=figures)
    )
    details = {"details": {"cuda_device_name": "NVIDIA H100 80GB HBM3"}}
    opened.upsert_worker(worker("w-ok", WorkerState.READY, stage="ready", weights=details))
    opened.upsert_worker(worker("w-old", WorkerState.READY, age=120, stage="ready"))
    opened.upsert_worker(worker("w-ancient", WorkerState.READY, age=3600, stage="ready"))
    return opened


def test_the_snapshot_has_models_queue_and_workers(store: SqliteStore) -> None:
    data = snapshot(store)
    [model] = data["models"]
    assert (model["model"], model["readiness"], model["queued"], model["processing"]) == (
        MODEL,
        "ready",
        3,
        0,
    )
    assert model["workers"] == {"total": 2, "ready": 1, "failed": 0}
    workers = {w["id"]: w for w in data["workers"]}
    assert set(workers) == {"w-dl", "w-ok", "w-old"}  # gone for an hour: left out
    assert workers["w-dl"]["stage_text"] == "downloading 1.2 GB of 57.7 GB (2%)"
    assert workers["w-ok"]["gpu"] == "NVIDIA H100 80GB HBM3"
    assert workers["w-old"]["state"] == "gone"
    console = Console(width=160, record=True)
    console.print(render(data))
    text = console.export_text()
    assert "downloading 1.2 GB of 57.7 GB (2%)" in text and "cuda:0 (NVIDIA H100 80GB HBM3)" in text
    assert "1/2 ready" in text


def test_watch_refreshes_until_ctrl_c(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("editserve.commands.status.run.time.sleep", sleep)
    assert run_status(store, watch=True, interval=2.0, as_json=True) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["models"][0]["queued"] == 3 for line in lines)
    assert sleeps == [2.0, 2.0]


def test_the_command_reads_the_store_named_by_the_settings(
    store: SqliteStore, tmp_path: Path
) -> None:
    result = CliRunner().invoke(main, ["status", "--json", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["models"][0]["queued"] == 3
    result = CliRunner().invoke(main, ["status", "--data-dir", str(tmp_path)], terminal_width=200)
    assert result.exit_code == 0 and "Workers" in result.output and "w-dl" in result.output
