"""One claimed batch on a worker: inputs → the model's job → the adapter → storage → finish.

A batch is one generation, or several of one enqueue request that differ only in their
seed and run as one pipeline call. Between denoising steps the step callback writes the
progress of the whole batch in one store round trip, which also answers who was
cancelled, and stops the run when the worker is stopping or has lost its lease.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from editserve.blobs.base import BlobStorage
from editserve.core.logs import log_context, set_log_stage
from editserve.core.settings import Settings
from editserve.domain.record import Generation, Status
from editserve.inputs.decode import load_rgb_many
from editserve.models.base import EditJob, EditResult, GenerationCancelled, ModelAdapter
from editserve.models.spec import ModelSpec
from editserve.store import JobQueue, is_store_unavailable
from editserve.store.rows import NextClaim
from editserve.worker.control import control_inputs, is_map_job, map_job
from editserve.worker.output import describe_failure, encode_image
from editserve.worker.sweep import calls_of, over_batch, run_calls

log = logging.getLogger("editserve.worker")

# Inputs are pre-shrunk to at most this many times a generation's target area.
INPUT_AREA_MARGIN = 2

PUT_ATTEMPTS = 3  # storing an output: tries before the generation fails
PUT_RETRY_SECONDS = 0.2  # the first wait between them (doubling)


def output_keys(generation_id: str, output_format: str, layers: int = 0) -> list[str]:
    """Where a generation's outputs are stored: ``outputs/<id>.<ext>`` for its one picture;
    a layered model's ``layers`` under ``outputs/<id>-layer-<n>.<ext>``, n = 1, 2... in
    order (store/links.py reads both back to the generation)."""
    if not layers:
        return [f"outputs/{generation_id}.{output_format}"]
    return [f"outputs/{generation_id}-layer-{n}.{output_format}" for n in range(1, layers + 1)]


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
    # time.monotonic() of the last sign of progress (claim, step): the watchdog reads it
    progress_at: float = field(default_factory=time.monotonic)
    watched: bool = False  # set when the run begins (a model load before it is not a hang)
    cancelled: set[str] = field(default_factory=set)

    @property
    def running(self) -> list[Generation]:
        return [gen for gen in self.gens if gen.id not in self.cancelled]


@dataclass
class BatchRun:
    """Runs one batch to its end: every generation in it finishes, or goes back."""

    settings: Settings
    store: JobQueue
    storage: BlobStorage
    spec: ModelSpec
    adapter: ModelAdapter
    worker_id: str
    weights: dict[str, Any] | None
    stopping: threading.Event
    batch: BatchInHand
    # What to claim next, asked when the batch's last job finishes: the finish and that
    # claim then go in one round trip (Store.finish_and_claim); None: claim nothing.
    then: Callable[[], NextClaim | None] | None = None
    next_gens: list[Generation] = field(default_factory=list)  # what that claim took
    timings: dict[str, float] = field(default_factory=dict)
    # a control map's key and type (worker/control.py), for every generation's receipt
    control_receipt: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    finished: int = 0
    # perf_counter() at the run's start, and the seconds of the batch's shared work (the
    # pipeline call) once it returned: each generation's gpu_seconds is its share of it.
    started: float = 0.0
    shared_seconds: float | None = None

    def run(self) -> None:
        ids = ",".join(g.id for g in self.batch.gens)
        with log_context(generation_id=ids, worker_id=self.worker_id, stage="starting"):
            self._run()

    def _run(self) -> None:
        # an ordinary request's siblings beyond max_batch_size (the claim takes a whole
        # sweep, worker/sweep.py) go back to the queue
        extra = over_batch(self.batch.gens, self.settings.max_batch_size)
        for gen in extra:
            self.store.requeue(gen, self.worker_id)
        self.batch.gens = [gen for gen in self.batch.gens if gen not in extra]
        gens = self.batch.gens
        self.batch.progress_at, self.batch.watched = time.monotonic(), True
        log.info(
            "worker %s: running %s (attempt %d)",
            self.worker_id,
            ", ".join(g.id for g in gens),
            gens[0].attempts,
        )
        started = self.started = time.perf_counter()
        try:
            results = self._generate()
            self.shared_seconds = time.perf_counter() - started
        except GenerationCancelled:
            self._finish_all(Status.CANCELLED)
        except WorkerStopping:
            log.info("worker %s: stopping; job(s) go back to the queue", self.worker_id)
            for gen in gens:
                self.store.requeue(gen, self.worker_id)
        except LeaseLost:
            log.warning("worker %s: lease lost; dropping the job(s)", self.worker_id)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
            if is_store_unavailable(exc):
                # The database, not the job: the worker waits for it (worker/loop.py) and
                # the lease runs out, so the job runs again (the attempt counted).
                raise
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
        if is_map_job(first):  # POST /api/ai/images/control-map: the map is the result
            return [map_job(first, self.storage, self.settings, self.weights)]
        # a control picture becomes its map, Picture N (worker/control.py)
        control = control_inputs(first, self.storage, self.settings, self.weights)
        self.control_receipt = control.receipt
        if control.seconds is not None:
            self.timings["control_map"] = control.seconds
        t0 = time.perf_counter()
        # Decoded together; an input far larger than the model will use is decoded at a
        # reduced JPEG scale and shrunk first, keeping twice the target area for the
        # pipeline's own resize (inputs/decode.py; bench/images.py measures it); never
        # below the output's size (a masked edit's output is its first picture's size).
        images = load_rgb_many(
            [self.storage.get(key) for key in control.keys],
            max_area=INPUT_AREA_MARGIN * max(first.area, first.width * first.height),
        )
        self.timings["input_decode"] = round(time.perf_counter() - t0, 3)
        jobs = [self._job(gen, images) for gen in self.batch.gens]
        # a sweep's cells: calls of those that differ only by seed, encodings shared
        calls = calls_of(self.batch.gens, self.settings.max_batch_size)
        self.steps = sum(jobs[call[0]].num_inference_steps for call in calls)
        self._report(0, self.steps, "encoding", emit=False)
        if len(calls) > 1:
            return run_calls(self.adapter, jobs, calls, self._on_step)
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
        self.batch.progress_at = time.monotonic()
        set_log_stage(stage)
        running = self.batch.running
        held = self.store.report_progress(running, self.worker_id, step, total, stage, emit=emit)
        if len(held) < len(running):
            raise LeaseLost()
        self.batch.cancelled.update(gen_id for gen_id, cancel in held.items() if cancel)
        if not self.batch.running:
            raise GenerationCancelled()

    def _store_result(self, gen: Generation, result: EditResult, started: float) -> None:
        """Store every output (a layered model's layers, in order, each under its own key;
        the first is the result_key), then finish the generation."""
        timings = self._timings_of(gen)
        stored: list[str] = []
        try:
            steps = self.steps
            set_log_stage("storing")
            self.store.report_progress([gen], self.worker_id, steps, steps, "storing", emit=False)
            t1 = time.perf_counter()
            output_format = gen.params.get("output_format", "png")
            keys = output_keys(gen.id, output_format, len(result.layers))
            for key, image in zip(keys, result.outputs, strict=True):
                data, content_type = encode_image(
                    image,
                    output_format,
                    gen.params.get("output_quality"),
                    keep_alpha=bool(result.layers),
                )
                self._put(key, data, content_type)
                stored.append(key)
        except Exception as exc:  # noqa: BLE001 - a storage failure fails this generation
            if is_store_unavailable(exc):
                raise  # the database is down, not the storage (see run)
            log.error(
                "worker %s: generation %s failed storing its result:\n%s",
                self.worker_id,
                gen.id,
                traceback.format_exc(),
            )
            self._drop(stored)
            message = describe_failure(exc, "storing the result")
            self._finish(gen, Status.FAILED, error_message=message, timings=timings)
            return
        for name, seconds in result.timings.items():
            timings[name] = round(seconds, 3)
        timings["encode_store"] = round(time.perf_counter() - t1, 3)
        # wall time of the run on the worker, from claim to stored result
        timings["total"] = round(time.perf_counter() - started, 3)
        # Which worker ran it, on which attempt: an operator's first question about a result.
        ran_by = {"worker_id": self.worker_id, "attempt": gen.attempts}
        receipt = {**result.receipt, "weights": self.weights, **ran_by, **self.control_receipt}
        layers = {"layer_keys": stored} if result.layers else {}
        megapixels = sum(image.width * image.height for image in result.outputs) / 1e6
        self._finish(
            gen, Status.SUCCEEDED, result_key=stored[0], timings=timings, receipt=receipt,
            output_megapixels=round(megapixels, 6), **layers,
        )  # fmt: skip

    def _drop(self, keys: list[str]) -> None:
        """The outputs of a generation that failed storing the rest: nothing will name
        them, so they go now (best effort: a failing storage may keep some)."""
        for key in keys:
            try:
                self.storage.delete(key)
            except Exception:  # noqa: BLE001 - the failure is already the generation's
                log.warning("worker %s: could not delete %s", self.worker_id, key)

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        """Store the output, trying again a few times after a passing storage failure (a
        dropped connection to S3); a full disk is not passing: it fails at once."""
        for attempt in range(PUT_ATTEMPTS):
            try:
                self.storage.put(key, data, content_type)
                return
            except Exception as exc:
                full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
                if full or attempt + 1 == PUT_ATTEMPTS:
                    raise
                log.warning(
                    "worker %s: storing %s failed (%s); trying again",
                    self.worker_id,
                    key,
                    type(exc).__name__,
                )
            self.stopping.wait(PUT_RETRY_SECONDS * 2**attempt)

    def _timings_of(self, gen: Generation) -> dict[str, float]:
        own = dict(self.timings)
        if gen.started_at is not None:
            own["queue_wait"] = round(max(0.0, gen.started_at - gen.enqueued_at), 3)
        return own

    def _finish_all(self, status: Status, **fields: Any) -> None:
        for gen in self.batch.gens:
            self._finish(gen, status, timings=self._timings_of(gen), **fields)

    def _gpu_seconds(self, timings: dict[str, float] | None) -> float:
        """The worker time a generation is charged (usage, quotas): its share of the
        batch's shared work (the pipeline call; until now if it failed) and its own
        storing."""
        shared = self.shared_seconds
        if shared is None:
            shared = time.perf_counter() - self.started if self.started else 0.0
        own = (timings or {}).get("encode_store", 0.0)
        return round(shared / max(1, len(self.batch.gens)) + own, 3)

    def _finish(self, gen: Generation, status: Status, **fields: Any) -> None:
        fields.setdefault("gpu_seconds", self._gpu_seconds(fields.get("timings")))
        self.finished += 1
        last = self.finished == len(self.batch.gens)
        then = self.then() if last and self.then is not None else None
        if then is None:
            held = self.store.finish(gen, self.worker_id, status, **fields)
        else:
            held, self.next_gens = self.store.finish_and_claim(
                gen, self.worker_id, status, then, **fields
            )
        if not held:
            log.warning("worker %s: %s ended after losing its lease", self.worker_id, gen.id)
        elif status is Status.SUCCEEDED and fields.get("timings"):
            try:  # the stage latency histograms of /metrics; never fails the job
                self.store.record_stage_timings(gen.model, fields["timings"])
            except Exception:  # noqa: BLE001
                log.warning("worker %s: stage timings not recorded", self.worker_id, exc_info=True)
