"""A batch on the worker: one store round trip per denoising step for the whole batch, and
a cancel of one generation of a running batch lands at the next step."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from fixtures.worker import queued
from PIL import Image

from editserve.blobs.local import LocalStorage
from editserve.core.settings import Settings
from editserve.domain.record import Generation, Status
from editserve.models.base import EditJob, EditResult, LoadedWeights, StepCallback
from editserve.store.sqlite import SqliteStore
from editserve.worker.loop import Worker

STEPS = 5


class PaintsBatches:
    supports_batch = True

    def __init__(self, on_step_hook: Any = None) -> None:
        self.calls: list[int] = []
        self.on_step_hook = on_step_hook

    def load(self) -> LoadedWeights:
        return LoadedWeights("fixture", None, True, "cpu", "float32")

    def generate(self, job: EditJob, on_step: StepCallback) -> EditResult:
        return self.generate_batch([job], on_step)[0]

    def generate_batch(self, jobs: list[EditJob], on_step: StepCallback) -> list[EditResult]:
        self.calls.append(len(jobs))
        for step in range(1, jobs[0].num_inference_steps + 1):
            if self.on_step_hook:
                self.on_step_hook(step)
            on_step(step, jobs[0].num_inference_steps)
        return [EditResult(Image.new("RGB", (job.width, job.height))) for job in jobs]


class CountingStore(SqliteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.progress_calls = 0

    def report_progress(self, *args: Any, **kwargs: Any) -> dict[str, bool]:
        self.progress_calls += 1
        return super().report_progress(*args, **kwargs)

    def is_cancel_requested(self, generation_id: str) -> bool:
        return super().is_cancel_requested(generation_id)


def enqueue_batch(store: SqliteStore, size: int) -> list[Generation]:
    params = {"prompt": "p", "input_image": ["x"], "num_inference_steps": STEPS}
    return queued(
        store, size, params=params, size=(32, 32), area=1024, first_seed=0, input_size=(8, 8)
    )


def setup(tmp_path: Path, adapter: PaintsBatches) -> tuple[CountingStore, Worker]:
    settings = Settings(data_dir=tmp_path, progress_interval_seconds=0, max_batch_size=4)
    store = CountingStore(tmp_path / "db.sqlite")
    storage = LocalStorage(tmp_path / "files")
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    storage.put("inputs/a.png", buffer.getvalue(), "image/png")
    worker = Worker(settings, worker_id="w", store=store, storage=storage, adapter=adapter)
    worker.load()
    return store, worker


def test_each_step_of_a_batch_is_one_progress_write(tmp_path: Path) -> None:
    adapter = PaintsBatches()
    store, worker = setup(tmp_path, adapter)
    gens = enqueue_batch(store, 4)
    assert worker.run_once()
    assert adapter.calls == [4]  # one pipeline call for the four
    # "encoding" + one per step for the whole batch + "storing" once per generation
    assert store.progress_calls == 1 + STEPS + 4
    for gen in gens:
        done = store.get_generation(gen.id)
        assert done is not None and done.status is Status.SUCCEEDED
        assert (done.progress_step, done.progress_total) == (STEPS, STEPS)


def test_a_cancel_inside_a_running_batch_lands_at_the_next_step(tmp_path: Path) -> None:
    gens: list[Generation] = []

    def cancel_second(step: int) -> None:
        if step == 2:
            assert store.request_cancel(gens[1].id, "key_a") is not None

    adapter = PaintsBatches(cancel_second)
    store, worker = setup(tmp_path, adapter)
    gens.extend(enqueue_batch(store, 2))
    assert worker.run_once()
    first, second = (store.get_generation(g.id) for g in gens)
    assert first is not None and first.status is Status.SUCCEEDED
    assert second is not None and second.status is Status.CANCELLED
    events = [e for e in store.events_after("key_a", 0) if e.generation_id == gens[1].id]
    steps = [e.data["step"] for e in events if e.type == "media_generation_progress"]
    assert steps == [1, 2]  # its progress stopped at the step the cancel was seen


def test_inputs_far_larger_than_the_target_are_shrunk_before_the_model(tmp_path: Path) -> None:
    seen: list[Any] = []

    class Records(PaintsBatches):
        def generate_batch(self, jobs: list[EditJob], on_step: StepCallback) -> list[EditResult]:
            seen.extend(jobs[0].images)
            return super().generate_batch(jobs, on_step)

    store, worker = setup(tmp_path, Records())
    buffer = io.BytesIO()
    Image.new("RGB", (400, 200), (10, 20, 30)).save(buffer, format="JPEG")
    worker.storage.put("inputs/a.png", buffer.getvalue(), "image/jpeg")
    enqueue_batch(store, 1)  # area 1024: inputs are kept at no more than 2 x 1024 pixels
    assert worker.run_once()
    [image] = seen
    width, height = image.size
    assert width * height <= 2 * 1024 and abs(width / height - 2.0) < 0.1
