"""The worker loop with small fixture adapters, one behaviour (or failure) each.

These fakes stand in for the model only here, to drive the worker's failure paths;
the real pipeline runs in the adapter and end-to-end tests.
"""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest
from fixtures.worker import queued
from PIL import Image

from editserve.core.settings import Settings
from editserve.domain.record import Generation, Status
from editserve.models.base import EditJob, EditResult, LoadedWeights, ModelLoadError, StepCallback
from editserve.models.registry import default_registry
from editserve.services.catalog import model_readiness
from editserve.store.sqlite import SqliteStore
from editserve.worker.loop import EXIT_LOAD_FAILED, Worker

WEIGHTS = LoadedWeights("fixture", None, True, "cpu", "float32")


class Paints:
    """Runs every step and returns a flat image of the job's size."""

    supports_batch = False

    def __init__(self, step_delay: float = 0.0) -> None:
        self.step_delay = step_delay
        self.jobs: list[EditJob] = []

    def load(self) -> LoadedWeights:
        return WEIGHTS

    def generate(self, job: EditJob, on_step: StepCallback) -> EditResult:
        self.jobs.append(job)
        for step in range(1, job.num_inference_steps + 1):
            time.sleep(self.step_delay)
            on_step(step, job.num_inference_steps)
        return EditResult(Image.new("RGB", (job.width, job.height), (9, 9, 9)), {"denoise": 0.1})


class FailsToLoad(Paints):
    def load(self) -> LoadedWeights:
        raise ModelLoadError("model weights folder '/nope' does not exist")


class RaisesInGenerate(Paints):
    def generate(self, job: EditJob, on_step: StepCallback) -> EditResult:
        on_step(1, job.num_inference_steps)
        raise RuntimeError("boom in the pipeline")


class RunsOutOfMemory(Paints):
    def generate(self, job: EditJob, on_step: StepCallback) -> EditResult:
        raise MemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, lease_seconds=5, progress_interval_seconds=0)


def enqueue(store: SqliteStore, steps: int = 3, output_format: str = "png") -> Generation:
    gens = queued(
        store, steps=steps, output_format=output_format, size=(96, 64), first_seed=123, batch_id="b"
    )
    return gens[0]


def make_worker(settings, store, storage, adapter) -> Worker:  # type: ignore[no-untyped-def]
    worker = Worker(settings, worker_id="w-test", store=store, storage=storage, adapter=adapter)
    worker.load()
    return worker


@pytest.mark.parametrize("output_format", ["png", "jpg", "webp"])
def test_a_job_runs_and_is_stored(settings, store, storage, output_format) -> None:  # type: ignore[no-untyped-def]
    adapter = Paints()
    gen = enqueue(store, output_format=output_format)
    worker = make_worker(settings, store, storage, adapter)
    assert worker.run_once()
    done = store.get_generation(gen.id)
    assert done is not None and done.status is Status.SUCCEEDED
    assert done.result_key == f"outputs/{gen.id}.{output_format}"
    image = Image.open(io.BytesIO(storage.get(done.result_key)))
    assert image.size == (96, 64)
    assert image.format == {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}[output_format]
    [job] = adapter.jobs
    assert job.seed == 123 and job.negative_prompt == " " and job.true_cfg_scale == 4.0
    assert job.images[0].mode == "RGB"  # RGBA input converted for the pipeline
    assert (done.progress_step, done.progress_total) == (3, 3)
    assert done.timings is not None and {"queue_wait", "input_decode", "encode_store"} <= set(
        done.timings
    )
    assert done.receipt is not None and done.receipt["weights"]["is_tiny"] is True
    assert (done.receipt["worker_id"], done.receipt["attempt"]) == ("w-test", 1)
    assert not worker.run_once()  # queue empty


def test_load_failure_is_reported_with_its_reason(settings, store, storage) -> None:  # type: ignore[no-untyped-def]
    worker = Worker(
        settings, worker_id="w-bad", store=store, storage=storage, adapter=FailsToLoad()
    )
    worker.stop_event.set()
    assert worker.run() == EXIT_LOAD_FAILED
    readiness = model_readiness(store, default_registry().get("qwen-image-edit-plus")).model_dump()
    assert readiness["readiness"] == "failed"
    assert "does not exist" in readiness["readiness_reason"]


def test_pipeline_error_fails_the_job_with_worded_message(settings, store, storage, caplog) -> None:  # type: ignore[no-untyped-def]
    gen = enqueue(store)
    worker = make_worker(settings, store, storage, RaisesInGenerate())
    with caplog.at_level("ERROR", logger="editserve.worker"):
        worker.run_once()
    done = store.get_generation(gen.id)
    assert done is not None and done.status is Status.FAILED
    message = "an internal error occurred while generating; the server log has the details"
    # The caller reads a worded message; the exception goes to the log with the id.
    assert done.error_message == message
    assert "boom" not in done.error_message and "RuntimeError" not in done.error_message
    logged = caplog.text
    assert gen.id in logged and "RuntimeError: boom in the pipeline" in logged
    completed = store.events_after("key_a", 0)[-1]
    assert completed.type == "media_generation_completed"
    assert completed.data == {
        "generation_id": gen.id,
        "media_type": "image",
        "model": "qwen-image-edit-plus",
        "status": "failed",
        "error": message,
    }


def test_out_of_memory_message_says_what_to_do(settings, store, storage) -> None:  # type: ignore[no-untyped-def]
    gen = enqueue(store)
    make_worker(settings, store, storage, RunsOutOfMemory()).run_once()
    done = store.get_generation(gen.id)
    assert done is not None and "out of memory" in (done.error_message or "")
    assert "preview" in (done.error_message or "")


def test_cancel_stops_at_the_next_step(settings, store, storage) -> None:  # type: ignore[no-untyped-def]
    adapter = Paints(step_delay=0.05)
    gen = enqueue(store, steps=200)
    worker = make_worker(settings, store, storage, adapter)
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    while (store.get_generation(gen.id).progress_step or 0) < 2:  # type: ignore[union-attr]
        time.sleep(0.01)
    store.request_cancel(gen.id, "key_a")
    thread.join(timeout=10)
    done = store.get_generation(gen.id)
    assert done is not None and done.status is Status.CANCELLED
    assert (done.progress_step or 0) < 200
    assert done.result_key is None


def test_stopping_worker_gives_the_job_back(settings, store, storage) -> None:  # type: ignore[no-untyped-def]
    gen = enqueue(store, steps=200)
    worker = make_worker(settings, store, storage, Paints(step_delay=0.05))
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    while (store.get_generation(gen.id).progress_step or 0) < 2:  # type: ignore[union-attr]
        time.sleep(0.01)
    worker.stop_event.set()
    thread.join(timeout=10)
    back = store.get_generation(gen.id)
    assert back is not None and back.status is Status.QUEUED and back.attempts == 0


def test_progress_events_are_rate_limited(settings, store, storage) -> None:  # type: ignore[no-untyped-def]
    slow_events = settings.model_copy(update={"progress_interval_seconds": 60})
    gen = enqueue(store, steps=20)
    make_worker(slow_events, store, storage, Paints()).run_once()
    progress = [e for e in store.events_after("key_a", 0) if e.type == "media_generation_progress"]
    # the first and the last step always; nothing in between within the interval
    assert [e.data["step"] for e in progress] == [1, 20]
    assert store.get_generation(gen.id).status is Status.SUCCEEDED  # type: ignore[union-attr]


def test_a_store_outage_does_not_stop_the_worker(settings, store, storage, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    gen = enqueue(store)
    worker = Worker(
        settings.model_copy(update={"worker_poll_seconds": 0.01}),
        worker_id="w-outage",
        store=store,
        storage=storage,
        adapter=Paints(),
    )
    real_claim = store.claim_batch
    calls = {"n": 0}

    def flaky_claim(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise sqlite3.OperationalError("database is locked")
        claimed = real_claim(*args, **kwargs)
        if not claimed:
            worker.stop_event.set()
        return claimed

    monkeypatch.setattr(store, "claim_batch", flaky_claim)
    thread = threading.Thread(target=worker.run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert calls["n"] >= 2
    assert store.get_generation(gen.id).status is Status.SUCCEEDED  # type: ignore[union-attr]


def test_a_finish_brings_the_next_job_in_the_same_round_trip(
    settings, store, storage, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    gens = [enqueue(store) for _ in range(3)]
    calls: list[str] = []
    for name in ("claim_batch", "finish", "finish_and_claim"):
        method = getattr(store, name)
        monkeypatch.setattr(
            store, name, lambda *a, _m=method, _n=name, **k: (calls.append(_n), _m(*a, **k))[1]
        )
    worker = make_worker(settings, store, storage, Paints())
    for _ in gens:
        assert worker.run_once()
    assert not worker.run_once()
    assert calls == ["claim_batch"] + ["finish_and_claim"] * 3 + ["claim_batch"]
    done = [store.get_generation(gen.id) for gen in gens]
    assert all(gen is not None and gen.status is Status.SUCCEEDED for gen in done)
    assert [gen.attempts for gen in done] == [1, 1, 1]  # type: ignore[union-attr]


def test_a_job_claimed_with_a_finish_goes_back_if_the_worker_stops(
    settings, store, storage
) -> None:  # type: ignore[no-untyped-def]
    first, second = enqueue(store), enqueue(store)
    worker = make_worker(settings, store, storage, Paints())
    assert worker.run_once()
    held = store.get_generation(second.id)
    assert held is not None and held.status is Status.PROCESSING  # claimed with the finish
    worker.stop_event.set()
    worker.run()
    back = store.get_generation(second.id)
    assert back is not None and back.status is Status.QUEUED and back.attempts == 0
    assert store.get_generation(first.id).status is Status.SUCCEEDED  # type: ignore[union-attr]
