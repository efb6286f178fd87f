"""ETAs on the queue views: from recent run times, the queue position and live workers."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

from editserve.core.settings import Settings
from editserve.domain.record import Generation, Status
from editserve.models.registry import default_registry
from editserve.services.generations.service import GenerationService
from editserve.store.rows import WorkerRow
from editserve.store.sqlite import SqliteStore

MODEL = "qwen-image-edit-plus"


def gen(**overrides: object) -> Generation:
    values: dict = dict(
        id=str(uuid.uuid4()), owner="key_a", model=MODEL, status=Status.QUEUED,
        params={"prompt": "p", "input_image": ["x"]}, inputs=[], batch_id=str(uuid.uuid4()),
        batch_index=0, seed=1, width=64, height=64, area=4096, enqueued_at=time.time(),
    )  # fmt: skip
    values.update(overrides)
    return Generation(**values)


def test_eta_follows_run_times_progress_and_queue_position(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite")
    service = GenerationService(Settings(data_dir=tmp_path), store, default_registry())
    assert service.views.eta_estimator()(gen(), 0) is None  # no run finished yet: no estimate

    done = gen()
    store.insert_generations([done])
    [claimed] = store.claim_batch("w1", [MODEL], 30, 3, 1)
    time.sleep(0.2)
    store.finish(claimed, "w1", Status.SUCCEEDED, result_key="outputs/x.png")
    finished = store.get_generation(done.id)
    assert finished is not None and finished.completed_at and finished.started_at
    per_run = finished.completed_at - finished.started_at
    store.upsert_worker(WorkerRow("w1", "h", 1, "cpu", "ready", time.time(), time.time()))

    eta = service.views.eta_estimator()
    assert eta(gen(), 0) == round(per_run, 1)
    assert eta(gen(), 3) == round(per_run * 4, 1)  # one worker: three runs ahead
    halfway = gen(status=Status.PROCESSING, progress_step=5, progress_total=10)
    assert eta(halfway, None) == round(per_run * 0.5, 1)
    assert eta(gen(status=Status.SUCCEEDED), None) is None


def test_eta_scales_with_the_requests_steps_and_output_size(tmp_path: Path) -> None:
    """A run of 40 steps at one megapixel that took 40 s is the history: an 8-step request of
    that size is expected to take 8 s, a quarter-size one a quarter, and a run at its last
    step has nothing left (a newcomer saw `eta 56 s` for a 19 s run, and "About 39 s left"
    at "Step 8 of 8")."""
    store = SqliteStore(tmp_path / "db.sqlite")
    service = GenerationService(Settings(data_dir=tmp_path), store, default_registry())
    big = {"prompt": "p", "input_image": ["x"], "num_inference_steps": 40}
    same_size: dict = dict(width=1000, height=1000, area=1_000_000)
    done = gen(params=big, **same_size)
    store.insert_generations([done])
    [claimed] = store.claim_batch("w1", [MODEL], 30, 3, 1)
    store.report_progress([claimed], "w1", 40, 40, "storing", emit=False)
    store.finish(claimed, "w1", Status.SUCCEEDED, result_key="outputs/x.png")
    with sqlite3.connect(tmp_path / "db.sqlite") as db:  # the run took 40 s
        db.execute("UPDATE generations SET completed_at = started_at + 40 WHERE id = ?", [done.id])
    db.close()
    store.upsert_worker(WorkerRow("w1", "h", 1, "cpu", "ready", time.time(), time.time()))

    eta = service.views.eta_estimator()
    small = {"prompt": "p", "input_image": ["x"], "num_inference_steps": 8}
    assert eta(gen(params=big, **same_size), 0) == 40.0
    assert eta(gen(params=small, **same_size), 0) == 8.0
    assert eta(gen(params=small, width=500, height=500, area=250_000), 0) == 2.0
    # The runs ahead count at the recent mean run time, this one at its own work.
    assert eta(gen(params=small, **same_size), 2) == 8.0 + 2 * 40.0
    running = dict(status=Status.PROCESSING, params=small, progress_total=8, **same_size)
    assert eta(gen(progress_step=0, **running), None) == 8.0
    assert eta(gen(progress_step=6, **running), None) == 2.0
    assert eta(gen(progress_step=8, **running), None) == 0.0
