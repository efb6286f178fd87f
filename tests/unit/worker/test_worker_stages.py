"""A worker reports its start-up through the store as it goes: each stage the adapter
announces (with its figures), then ready — or failed with the reason and the stage it
failed in. An adapter built from the spec gets the worker's stage callback."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from editserve.blobs.local import LocalStorage
from editserve.core.settings import Settings
from editserve.domain.stages import StageCallback
from editserve.models.base import LoadedWeights, ModelLoadError
from editserve.models.registry import ModelRegistry, default_registry
from editserve.store.rows import WorkerState
from editserve.store.sqlite import SqliteStore
from editserve.worker.loop import EXIT_LOAD_FAILED, Worker

SEEN: list[tuple[str, str | None, dict[str, Any] | None]] = []  # (state, stage, detail)
STORE: list[SqliteStore] = []


class StagedAdapter:
    """Announces a download and two components, reading the store after each."""

    supports_batch = False

    def __init__(
        self, settings: Settings, device: str | None = None, *, on_stage: StageCallback
    ) -> None:
        self.on_stage = on_stage

    def _announce(self, stage: str, detail: dict[str, Any]) -> None:
        self.on_stage(stage, detail)
        (row,) = STORE[0].list_workers()
        SEEN.append((row.state.value, row.stage, row.stage_detail))

    def load(self) -> LoadedWeights:
        self._announce("downloading", {"bytes_done": 50, "bytes_total": 100})
        self._announce("loading", {"component": "vae", "index": 1, "count": 2})
        self._announce("loading", {"component": "transformer", "index": 2, "count": 2})
        return LoadedWeights("fixture", None, True, "cpu", "float32")


class FailsWhileDownloading(StagedAdapter):
    def load(self) -> LoadedWeights:
        self._announce("downloading", {"bytes_done": 0, "bytes_total": 100})
        raise ModelLoadError("could not download the weights: the disk is full")


def worker_for(adapter: str, tmp_path: Path) -> Worker:
    SEEN.clear()
    STORE[:] = [SqliteStore(tmp_path / "db.sqlite")]
    spec = dataclasses.replace(
        default_registry().default, adapter_path=f"test_worker_stages:{adapter}"
    )
    return Worker(
        Settings(data_dir=tmp_path),
        worker_id="w-stages",
        registry=ModelRegistry([spec]),
        store=STORE[0],
        storage=LocalStorage(tmp_path / "files"),
    )


def test_each_stage_is_in_the_store_while_it_lasts_then_ready(tmp_path: Path) -> None:
    worker = worker_for("StagedAdapter", tmp_path)
    worker.load()
    assert SEEN[0] == ("loading", "downloading", {"bytes_done": 50, "bytes_total": 100})
    assert SEEN[1] == ("loading", "loading", {"component": "vae", "index": 1, "count": 2})
    # the same stage again within a second is held back (a download reports many times)
    assert SEEN[2] == SEEN[1]
    (row,) = STORE[0].list_workers()
    assert row.state is WorkerState.READY and row.stage == "ready"
    assert row.stage_detail is not None and row.stage_detail["seconds"] >= 0


def test_a_failed_start_up_says_why_and_where(tmp_path: Path) -> None:
    worker = worker_for("FailsWhileDownloading", tmp_path)
    worker.stop_event.set()
    assert worker.run() == EXIT_LOAD_FAILED
    (row,) = STORE[0].list_workers()
    assert row.state is WorkerState.FAILED and row.stage == "failed"
    assert row.stage_detail == {
        "reason": "could not download the weights: the disk is full",
        "during": "downloading",
    }


@pytest.fixture(autouse=True)
def _close_store() -> Any:
    yield
    for store in STORE:
        store.close()
    STORE.clear()
