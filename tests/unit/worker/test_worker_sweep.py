"""A sweep on the worker (worker/sweep.py): its cells are claimed together (up to 16), run
as one call per group that differs only by seed (at most max_batch_size jobs each), inside
the adapter's shared encodings, with one progress count; an ordinary request's siblings
beyond max_batch_size go back to the queue as before."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image

from editserve.blobs.local import LocalStorage
from editserve.core.settings import Settings
from editserve.domain.record import Generation, Status
from editserve.models.base import EditJob, EditResult, LoadedWeights, StepCallback
from editserve.store.sqlite import SqliteStore
from editserve.worker.loop import Worker
from editserve.worker.sweep import calls_of, claim_size


class RecordsCalls:
    supports_batch = True

    def __init__(self) -> None:
        self.calls: list[list[tuple[float, int, int]]] = []
        self.shared: list[str] = []
        self.progress: list[tuple[int, int]] = []

    def load(self) -> LoadedWeights:
        return LoadedWeights("fixture", None, True, "cpu", "float32")

    @contextmanager
    def shared_encodings(self) -> Iterator[None]:
        self.shared.append("open")
        yield
        self.shared.append("closed")

    def generate(self, job: EditJob, on_step: StepCallback) -> EditResult:
        return self.generate_batch([job], on_step)[0]

    def generate_batch(self, jobs: list[EditJob], on_step: StepCallback) -> list[EditResult]:
        self.calls.append([(j.true_cfg_scale, j.num_inference_steps, j.seed) for j in jobs])
        for step in range(1, jobs[0].num_inference_steps + 1):
            on_step(step, jobs[0].num_inference_steps)
        return [
            EditResult(Image.new("RGB", (job.width, job.height)), receipt={"seed": job.seed})
            for job in jobs
        ]


def sweep_cells(store: SqliteStore, cells: list[tuple[float, int, int]]) -> list[Generation]:
    """Queued cells of one sweep: (cfg, steps, seed) each."""
    batch_id, now = str(uuid.uuid4()), time.time()
    marker = {"id": batch_id, "axes": [], "cells": len(cells)}
    gens = [
        Generation(
            id=str(uuid.uuid4()),
            owner="key_a",
            model="qwen-image-edit-plus",
            status=Status.QUEUED,
            params={
                "prompt": "p",
                "input_image": ["x"],
                "true_cfg_scale": cfg,
                "num_inference_steps": steps,
                "seed": seed,
                "sweep": {**marker, "index": index},
            },
            inputs=[{"key": "inputs/a.png", "width": 8, "height": 8}],
            batch_id=batch_id,
            batch_index=index,
            seed=seed,
            width=32,
            height=32,
            area=1024,
            enqueued_at=now,
        )  # fmt: skip
        for index, (cfg, steps, seed) in enumerate(cells)
    ]
    store.insert_generations(gens)
    return gens


def setup(tmp_path: Path, adapter: Any, max_batch_size: int) -> tuple[SqliteStore, Worker]:
    settings = Settings(
        data_dir=tmp_path, progress_interval_seconds=0, max_batch_size=max_batch_size
    )
    store = SqliteStore(tmp_path / "db.sqlite")
    storage = LocalStorage(tmp_path / "files")
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    storage.put("inputs/a.png", buffer.getvalue(), "image/png")
    worker = Worker(settings, worker_id="w", store=store, storage=storage, adapter=adapter)
    worker.load()
    return store, worker


def test_a_sweeps_cells_run_as_one_call_per_seed_group_encodings_shared(tmp_path: Path) -> None:
    adapter = RecordsCalls()
    store, worker = setup(tmp_path, adapter, max_batch_size=2)
    cells = [(cfg, 2, seed) for cfg in (2.5, 4.0) for seed in (1, 2, 3)] + [(4.0, 3, 1)]
    gens = sweep_cells(store, cells)
    assert worker.run_once()  # one claim took all seven cells
    assert adapter.calls == [
        [(2.5, 2, 1), (2.5, 2, 2)], [(2.5, 2, 3)],  # chunks of max_batch_size
        [(4.0, 2, 1), (4.0, 2, 2)], [(4.0, 2, 3)],
        [(4.0, 3, 1)],
    ]  # fmt: skip
    assert adapter.shared == ["open", "closed"]  # one cache for the whole sweep
    for gen, (_cfg, _steps, seed) in zip(gens, cells, strict=True):
        done = store.get_generation(gen.id)
        assert done is not None and done.status is Status.SUCCEEDED
        assert done.receipt is not None and done.receipt["seed"] == seed
        assert (done.progress_step, done.progress_total) == (11, 11)  # 2+2+2+2+3 steps
    assert not worker.run_once()


def test_an_ordinary_requests_siblings_beyond_max_batch_size_go_back(tmp_path: Path) -> None:
    from fixtures.worker import queued

    adapter = RecordsCalls()
    store, worker = setup(tmp_path, adapter, max_batch_size=2)
    gens = queued(store, 4, size=(32, 32), area=1024)
    assert worker.run_once()
    assert [len(call) for call in adapter.calls] == [2]
    statuses = [store.get_generation(gen.id).status for gen in gens]  # type: ignore[union-attr]
    # the other two went back, and the last finish claimed them again (finish_and_claim)
    assert statuses[:2] == [Status.SUCCEEDED, Status.SUCCEEDED]
    assert [store.get_generation(g.id).attempts for g in gens[2:]] == [1, 1]  # type: ignore[union-attr]
    assert worker.run_once()
    assert [len(call) for call in adapter.calls] == [2, 2]
    assert all(store.get_generation(g.id).status is Status.SUCCEEDED for g in gens)  # type: ignore[union-attr]
    assert adapter.shared == []  # not a sweep: no shared encodings


def test_claim_sizes_and_groups() -> None:
    assert claim_size(1) == 1 and claim_size(4) == 16 and claim_size(32) == 32
    assert calls_of([], 4) == []
