"""One claimed batch on a worker: inputs → the model's job → the adapter → storage → finish.

A batch is one generation, or several of one enqueue request that differ only in their
seed and run as one pipeline call. Between denoising steps the step callback writes the
progress of the whole batch in one store round trip, which also answers who was
cancelled, and stops the run when the worker is stopping or has lost its lease.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from editserve.config import Settings
from editserve.generations.record import Generation, Status
from editserve.inputs.decode import load_rgb
from editserve.models.base import EditJob, EditResult, GenerationCancelled, ModelAdapter
from editserve.models.spec import ModelSpec
from editserve.storage.base import BlobStorage
from editserve.store import Store
from editserve.worker.output import describe_failure, encode_image

log = logging.getLogger("editserve.worker")


class WorkerStopping(Exception):
    """The worker was asked to stop: give the job back."""


class LeaseLost(Exception):
    """Another worker owns this job now (our lease ran out): drop it."""


@dataclass
class BatchInHand:
    """The generations a worker holds; the heartbeat thread marks a lost lease here."""

    gens: list[Generation]
    lease_lost: bool = False
    last_event_at: float = 0.0
    cancelled: set[str] = field(default_factory=set)

    @property
    def running(self) -> list[Generation]:
        return [gen for gen in self.gens if gen.id not in self.cancelled]


@dataclass
class BatchRun:
    """Runs one batch to its end: every generation in it finishes, or goes back."""

    settings: Settings
    store: Store
    storage: BlobStorage
    spec: ModelSpec
    adapter: ModelAdapter
    worker_id: str
    weights: dict[str, Any] | None
    stopping: threading.Event
    batch: BatchInHand
    timings: dict[str, float] = field(default_factory=dict)
    steps: int = 0

    def run(self) -> None:
        gens = self.batch.gens
        log.info(
            "worker %s: running %s (attempt %d)",
            self.worker_id,
            ", ".join(g.id for g in gens),
            gens[0].attempts,
        )
        started = time.perf_counter()
        try:
            results = self._generate()
        except GenerationCancelled:
            self._finish_all(Status.CANCELLED)
        except WorkerStopping:
            log.info("worker %s: stopping; job(s) go back to the queue", self.worker_id)
            for gen in gens:
                self.store.requeue(gen, self.worker_id)
        except LeaseLost:
            log.warning("worker %s: lease lost; dropping the job(s)", self.worker_id)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
            # The caller sees a worded message; the exception goes to the log, by id.
            log.error(
                "worker %s: generation(s) %s failed:\n%s",
                self.worker_id,
                ", ".join(g.id for g in gens),
                traceback.format_exc(),
            )
            self._finish_all(Status.FAILED, error_message=describe_failure(exc, "generating"))
        else:
            for gen, result in zip(gens, results, strict=True):
                if gen.id in self.batch.cancelled or self.store.is_cancel_requested(gen.id):
                    self._finish(gen, Status.CANCELLED, timings=self._timings_of(gen))
                else:
                    self._store_result(gen, result, started)

    # 1. decode the inputs, 2. build the model's jobs, 3. run them, reporting each step.
    def _generate(self) -> list[EditResult]:
        first = self.batch.gens[0]
        t0 = time.perf_counter()
        images = [load_rgb(self.storage.get(item["key"])) for item in first.inputs]
        self.timings["input_decode"] = round(time.perf_counter() - t0, 3)
        jobs = [self._job(gen, images) for gen in self.batch.gens]
        self.steps = jobs[0].num_inference_steps
        self._report(0, self.steps, "encoding", emit=False)
        if len(jobs) == 1:
            return [self.adapter.generate(jobs[0], self._on_step)]
        return self.adapter.generate_batch(jobs, self._on_step)

    def _job(self, gen: Generation, images: list[Any]) -> EditJob:
        return self.spec.build_job(
            gen.params, images, seed=gen.seed, width=gen.width, height=gen.height, area=gen.area
        )

    def _on_step(self, step: int, total: int) -> None:
        if self.stopping.is_set():
            raise WorkerStopping()
        if self.batch.lease_lost:
            raise LeaseLost()
        now = time.monotonic()
        emit = step in (1, total) or (
            now - self.batch.last_event_at >= self.settings.progress_interval_seconds
        )
        if emit:
            self.batch.last_event_at = now
        self._report(step, total, "denoising" if step < total else "decoding", emit=emit)

    def _report(self, step: int, total: int, stage: str, *, emit: bool) -> None:
        """One round trip for the whole batch; it also says who was cancelled meanwhile."""
        running = self.batch.running
        held = self.store.report_progress(running, self.worker_id, step, total, stage, emit=emit)
        if len(held) < len(running):
            raise LeaseLost()
        self.batch.cancelled.update(gen_id for gen_id, cancel in held.items() if cancel)
        if not self.batch.running:
            raise GenerationCancelled()

    def _store_result(self, gen: Generation, result: EditResult, started: float) -> None:
        timings = self._timings_of(gen)
        try:
            steps = self.steps
            self.store.report_progress([gen], self.worker_id, steps, steps, "storing", emit=False)
            t1 = time.perf_counter()
            output_format = gen.params.get("output_format", "png")
            data, content_type = encode_image(
                result.image, output_format, gen.params.get("output_quality")
            )
            key = f"outputs/{gen.id}.{output_format}"
            self.storage.put(key, data, content_type)
        except Exception as exc:  # noqa: BLE001 - a storage failure fails this generation
            log.error(
                "worker %s: generation %s failed storing its result:\n%s",
                self.worker_id,
                gen.id,
                traceback.format_exc(),
            )
            message = describe_failure(exc, "storing the result")
            self._finish(gen, Status.FAILED, error_message=message, timings=timings)
            return
        for name, seconds in result.timings.items():
            timings[name] = round(seconds, 3)
        timings["encode_store"] = round(time.perf_counter() - t1, 3)
        # wall time of the run on the worker, from claim to stored result
        timings["total"] = round(time.perf_counter() - started, 3)
        receipt = {**result.receipt, "weights": self.weights}
        self._finish(gen, Status.SUCCEEDED, result_key=key, timings=timings, receipt=receipt)

    def _timings_of(self, gen: Generation) -> dict[str, float]:
        own = dict(self.timings)
        if gen.started_at is not None:
            own["queue_wait"] = round(max(0.0, gen.started_at - gen.enqueued_at), 3)
        return own

    def _finish_all(self, status: Status, **fields: Any) -> None:
        for gen in self.batch.gens:
            self._finish(gen, status, timings=self._timings_of(gen), **fields)

    def _finish(self, gen: Generation, status: Status, **fields: Any) -> None:
        if not self.store.finish(gen, self.worker_id, status, **fields):
            log.warning("worker %s: %s ended after losing its lease", self.worker_id, gen.id)
