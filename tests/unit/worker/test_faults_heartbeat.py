"""The heartbeat keeps every job of the batch in hand leased while the model runs longer
than the lease: two in-process workers on one store (two store objects on one SQLite file,
as two processes), a short lease, steps that each take longer than the lease. The second
worker, polling all along, claims none of them; each runs once, on its first attempt.

Without the heartbeat (or with it renewing only the first job of a batch), the lease runs
out mid-run, the second worker claims the job(s) and runs them again."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest
from fixtures.worker import queued
from PIL import Image

from editserve.blobs.local import LocalStorage
from editserve.core.settings import Settings
from editserve.domain.record import Generation, Status
from editserve.models.base import EditJob, EditResult, LoadedWeights, StepCallback
from editserve.store.sqlite import SqliteStore
from editserve.worker.loop import Worker

pytestmark = pytest.mark.timeout(60)

LEASE = 1.5  # seconds; the heartbeat renews every LEASE / 3
STEP = 2.2  # each step outlasts the lease: only the heartbeat can keep the jobs
STEPS = 2
MODEL = "qwen-image-edit-plus"


class Recorder:
    """A model whose steps take `step` seconds; it records the seeds it ran."""

    supports_batch = True

    def __init__(self, step: float) -> None:
        self.step = step
        self.ran: list[list[int]] = []

    def load(self) -> LoadedWeights:
        return LoadedWeights("fixture", None, True, "cpu", "float32")

    def generate(self, job: EditJob, on_step: StepCallback) -> EditResult:
        return self.generate_batch([job], on_step)[0]

    def generate_batch(self, jobs: list[EditJob], on_step: StepCallback) -> list[EditResult]:
        self.ran.append([job.seed for job in jobs])
        total = jobs[0].num_inference_steps
        for step in range(1, total + 1):
            time.sleep(self.step)
            on_step(step, total)
        return [EditResult(Image.new("RGB", (job.width, job.height))) for job in jobs]


def enqueue(store: SqliteStore, count: int) -> list[Generation]:
    params = {"prompt": "p", "input_image": ["x"], "num_inference_steps": STEPS}
    return queued(store, count, params=params, size=(32, 32), area=1024, input_size=(8, 8))


def wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.parametrize("count", [1, 2], ids=["one-job", "batch-of-two"])
def test_a_job_running_longer_than_its_lease_is_not_claimed_by_another_worker(
    tmp_path: Path, count: int
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        lease_seconds=LEASE,
        progress_interval_seconds=0,
        max_batch_size=2,
        worker_poll_seconds=0.05,
    )
    db = tmp_path / "db.sqlite"
    store_a, store_b = SqliteStore(db), SqliteStore(db)
    storage = LocalStorage(tmp_path / "files")
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    storage.put("inputs/a.png", buffer.getvalue(), "image/png")
    slow, fast = Recorder(STEP), Recorder(0.0)
    first = Worker(settings, worker_id="w-first", store=store_a, storage=storage, adapter=slow)
    second = Worker(settings, worker_id="w-second", store=store_b, storage=storage, adapter=fast)
    gens = enqueue(store_a, count)
    threads = [threading.Thread(target=w.run, daemon=True) for w in (first, second)]
    try:
        threads[0].start()

        def held_by_first() -> bool:
            rows = [store_a.get_generation(g.id) for g in gens]
            return all(r is not None and r.worker_id == "w-first" for r in rows)

        wait_until(held_by_first, 10, "the first worker's claim")
        threads[1].start()  # the second worker polls for work all along the run

        def all_ended() -> bool:
            rows = [store_a.get_generation(g.id) for g in gens]
            return all(r is not None and r.status.is_terminal for r in rows)

        wait_until(all_ended, 30, "the generations to end")
    finally:
        for worker in (first, second):
            worker.stop_event.set()
        for thread in threads:
            thread.join(15)
    assert fast.ran == [], "the second worker claimed a job whose lease the first still held"
    assert slow.ran == [[100 + i for i in range(count)]]  # one call, the whole batch
    for gen in gens:
        done = store_a.get_generation(gen.id)
        assert done is not None and done.status is Status.SUCCEEDED, done
        assert done.attempts == 1
        assert done.receipt is not None and done.receipt["worker_id"] == "w-first"
