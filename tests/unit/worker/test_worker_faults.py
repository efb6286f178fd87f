"""Faults met by an in-process Worker: storage that fails on write, a full disk, a
pipeline that hangs (the watchdog), SIGTERM during a batch. Each test can fail: it checks
the state the store and the storage are left in, not only that nothing raised.
"""

from __future__ import annotations

import errno
import io
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fixtures.worker import put_input, queued
from PIL import Image

from editserve.blobs.local import LocalStorage
from editserve.core.settings import Settings
from editserve.domain.record import Generation, Status
from editserve.models.base import EditJob, EditResult, LoadedWeights, StepCallback
from editserve.store.sqlite import SqliteStore
from editserve.worker.batch import PUT_ATTEMPTS
from editserve.worker.loop import EXIT_HUNG, Worker

WEIGHTS = LoadedWeights("fixture", None, True, "cpu", "float32")


class Paints:
    """Runs every step and returns a flat image of the job's size (batches too)."""

    supports_batch = True

    def __init__(self, step_delay: float = 0.0) -> None:
        self.step_delay = step_delay

    def load(self) -> LoadedWeights:
        return WEIGHTS

    def generate(self, job: EditJob, on_step: StepCallback) -> EditResult:
        for step in range(1, job.num_inference_steps + 1):
            time.sleep(self.step_delay)
            on_step(step, job.num_inference_steps)
        return EditResult(Image.new("RGB", (job.width, job.height), (9, 9, 9)), {"denoise": 0.1})

    def generate_batch(self, jobs: list[EditJob], on_step: StepCallback) -> list[EditResult]:
        return [self.generate(job, on_step) for job in jobs]


class Hangs(Paints):
    """Makes one step, then never another: a pipeline stuck in a native call."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def generate(self, job: EditJob, on_step: StepCallback) -> EditResult:
        on_step(1, job.num_inference_steps)
        self.release.wait(60)  # "forever" (the test lets it go at its end)
        on_step(2, job.num_inference_steps)
        return super().generate(job, on_step)


class PutFails(LocalStorage):
    """Storage whose writes of outputs raise (inputs still read)."""

    def __init__(self, root: Path, error: Exception, times: int = 1000) -> None:
        super().__init__(root)
        self.error = error
        self.failing = times  # writes of outputs that fail before one succeeds
        self.output_puts = 0

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if key.startswith("outputs/"):
            self.output_puts += 1
            if self.failing > 0:
                self.failing -= 1
                raise self.error
        super().put(key, data, content_type)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path, lease_seconds=3, progress_interval_seconds=0, max_batch_size=4
    )


def enqueue(store: SqliteStore, count: int = 1, steps: int = 3) -> list[Generation]:
    return queued(store, count, steps=steps)


def worker_for(settings: Settings, store: SqliteStore, storage: Any, adapter: Any) -> Worker:
    worker = Worker(settings, worker_id="w-test", store=store, storage=storage, adapter=adapter)
    worker.load()
    return worker


# --- storage failing on write ------------------------------------------------------------
def test_storage_failing_on_write_fails_the_generation_with_a_clear_message(
    settings: Settings, store: SqliteStore, tmp_path: Path
) -> None:
    storage = put_input(PutFails(tmp_path / "files", ConnectionResetError("s3 said no")))
    (gen,) = enqueue(store)
    worker = worker_for(settings, store, storage, Paints())
    assert worker.run_once()
    done = store.get_generation(gen.id)
    assert done is not None and done.status is Status.FAILED
    assert done.error_message == (
        "the server's file storage failed while storing the result; try again later"
    )
    assert "s3 said no" not in (done.error_message or "")
    assert done.result_key is None
    assert storage.output_puts == PUT_ATTEMPTS  # tried again before giving up
    # the worker goes on: the next job, with storage back, succeeds
    storage.failing = 0
    (again,) = enqueue(store)
    assert worker.run_once()
    assert store.get_generation(again.id).status is Status.SUCCEEDED  # type: ignore[union-attr]


def test_a_passing_storage_failure_is_retried(
    settings: Settings, store: SqliteStore, tmp_path: Path
) -> None:
    storage = put_input(PutFails(tmp_path / "files", ConnectionResetError("reset"), times=1))
    (gen,) = enqueue(store)
    assert worker_for(settings, store, storage, Paints()).run_once()
    done = store.get_generation(gen.id)
    assert done is not None and done.status is Status.SUCCEEDED, done
    assert storage.output_puts == 2 and storage.exists(done.result_key or "")


# --- the local disk full --------------------------------------------------------------
def test_a_full_disk_fails_clearly_and_leaves_no_partial_file(
    settings: Settings, store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = put_input(LocalStorage(tmp_path / "files"))
    real_fdopen = os.fdopen

    class FillingFile:
        """Writes half of what it is given, then the disk is full."""

        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def __enter__(self) -> FillingFile:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name: str) -> Any:
            return getattr(self.handle, name)

    full = {"on": True, "writes": 0}

    def fdopen(fd: int, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_fdopen(fd, mode, *args, **kwargs)
        if full["on"] and "w" in mode:
            full["writes"] += 1
            return FillingFile(handle)
        return handle

    monkeypatch.setattr("editserve.blobs.local.os.fdopen", fdopen)
    (gen,) = enqueue(store)
    worker = worker_for(settings, store, storage, Paints())
    assert worker.run_once()
    done = store.get_generation(gen.id)
    assert done is not None and done.status is Status.FAILED
    assert done.error_message == (
        "the server ran out of disk space while storing the result; try again later"
    )
    # nothing under the key, and no half-written temporary file left anywhere
    assert not storage.exists(f"outputs/{gen.id}.png")
    leftovers = [p for p in (tmp_path / "files").rglob("*") if p.is_file()]
    assert [p.relative_to(tmp_path / "files").as_posix() for p in leftovers] == ["inputs/a.png"]
    assert full["writes"] == 1  # a full disk is not tried again
    # the worker lives: with room again, the next job is stored whole
    full["on"] = False
    (again,) = enqueue(store)
    assert worker.run_once()
    stored = store.get_generation(again.id)
    assert stored is not None and stored.status is Status.SUCCEEDED
    assert Image.open(io.BytesIO(storage.get(stored.result_key or ""))).size == (64, 64)


# --- a hung pipeline: the watchdog ---------------------------------------------------------
def test_the_watchdog_ends_a_worker_hung_in_the_pipeline(
    settings: Settings, store: SqliteStore, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"step_timeout_seconds": 1.0, "lease_seconds": 30})
    storage = put_input(LocalStorage(tmp_path / "files"))
    adapter = Hangs()
    (gen,) = enqueue(store, steps=4)
    worker = Worker(settings, worker_id="w-hung", store=store, storage=storage, adapter=adapter)
    exits: list[int] = []
    exited = threading.Event()

    def fake_exit(code: int) -> None:  # the process would end here
        exits.append(code)
        exited.set()

    worker.exit = fake_exit
    runner = threading.Thread(target=worker.run, daemon=True)
    runner.start()
    try:
        assert exited.wait(30), "the watchdog never fired"
        assert exits == [EXIT_HUNG]
        held = store.get_generation(gen.id)
        assert held is not None and held.status is Status.PROCESSING and held.attempts == 1
        # what the supervisor does when the process is gone: release, and another claims
        # it with the hung attempt counted
        assert store.release_worker_leases("w-hung") == 1
        again = store.claim_batch("w-next", ["qwen-image-edit-plus"], 30, settings.max_attempts, 1)
        assert [g.id for g in again] == [gen.id]
        assert again[0].attempts == 2
    finally:
        worker.stop_event.set()
        adapter.release.set()
        runner.join(30)


def test_the_watchdog_leaves_a_slow_but_moving_pipeline_alone(
    settings: Settings, store: SqliteStore, tmp_path: Path
) -> None:
    # steps every 0.2 s for longer than the limit in all: progress, not hanging
    settings = settings.model_copy(update={"step_timeout_seconds": 2.0})
    storage = put_input(LocalStorage(tmp_path / "files"))
    (gen,) = enqueue(store, steps=15)
    worker = worker_for(settings, store, storage, Paints(step_delay=0.2))
    exits: list[int] = []
    worker.exit = exits.append
    beat = threading.Thread(target=worker._heartbeat_loop, daemon=True)
    beat.start()
    try:
        assert worker.run_once()
    finally:
        worker.stop_event.set()
        beat.join(10)
    assert exits == []
    assert store.get_generation(gen.id).status is Status.SUCCEEDED  # type: ignore[union-attr]


# --- SIGTERM during a batch ----------------------------------------------------------------
class StoppedMidBatch(Paints):
    """The worker gets SIGTERM while the batch runs (its handler sets stop_event)."""

    worker: Worker

    def generate_batch(self, jobs: list[EditJob], on_step: StepCallback) -> list[EditResult]:
        on_step(1, jobs[0].num_inference_steps)
        self.worker.stop_event.set()  # what the SIGTERM handler does
        return super().generate_batch(jobs, on_step)


def test_sigterm_during_a_batch_requeues_every_generation_uncounted(
    settings: Settings, store: SqliteStore, tmp_path: Path
) -> None:
    storage = put_input(LocalStorage(tmp_path / "files"))
    gens = enqueue(store, count=3)
    adapter = StoppedMidBatch()
    worker = worker_for(settings, store, storage, adapter)
    adapter.worker = worker
    assert worker.run_once()
    back = [store.get_generation(gen.id) for gen in gens]
    assert [g.status for g in back if g] == [Status.QUEUED] * 3
    assert [g.attempts for g in back if g] == [0, 0, 0]
    assert all(g.worker_id is None and g.result_key is None for g in back if g)


# --- the database gone mid-run ---------------------------------------------------------------
def test_a_database_outage_mid_run_does_not_fail_the_generation(
    settings: Settings, store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store error is the database's, not the job's: the job is not failed (nor its
    failure written when the database comes back a moment later); its lease runs out and
    it runs again, the attempt counted."""
    import sqlite3

    storage = put_input(LocalStorage(tmp_path / "files"))
    (gen,) = enqueue(store, steps=4)
    worker = worker_for(settings, store, storage, Paints())
    real = store.report_progress
    calls = {"n": 0}

    def down_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise sqlite3.OperationalError("unable to open database file")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "report_progress", down_once)
    with pytest.raises(sqlite3.OperationalError):
        worker.run_once()  # the worker loop waits and retries (test_worker.py)
    held = store.get_generation(gen.id)
    assert held is not None and held.status is Status.PROCESSING and held.error_message is None
    assert store.release_worker_leases("w-test") == 1  # as when its lease runs out
    assert worker.run_once()
    done = store.get_generation(gen.id)
    assert done is not None and done.status is Status.SUCCEEDED and done.attempts == 2
