"""ETAs on the queue views: from recent run times, the queue position and live workers."""

from __future__ import annotations

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
