"""The worker: claim a generation, run the model, write the result back. Repeat.

One worker process owns one model adapter on one device. A background heartbeat thread
renews the lease of the job in hand and the worker's own liveness row; the step callback
checks for cancellation, shutdown and a lost lease between denoising steps.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from editserve.config import Settings
from editserve.generations.record import Generation, Status
from editserve.inputs.decode import load_rgb
from editserve.models.base import (
    EditJob,
    EditResult,
    GenerationCancelled,
    ModelAdapter,
    ModelLoadError,
)
from editserve.models.registry import ModelRegistry, ModelSpec, default_registry
from editserve.storage import open_storage
from editserve.storage.base import BlobStorage
from editserve.store.base import Store, WorkerRow, is_store_unavailable, open_store

log = logging.getLogger("editserve.worker")

EXIT_OK = 0
EXIT_LOAD_FAILED = 3

FORMATS = {
    "png": ("PNG", "image/png", {}),
    "jpg": ("JPEG", "image/jpeg", {"quality": 95}),
    "webp": ("WEBP", "image/webp", {"quality": 95}),
}


class WorkerStopping(Exception):
    """The worker was asked to stop: give the job back."""


class LeaseLost(Exception):
    """Another worker owns this job now (our lease ran out): drop it."""


def encode_image(image: Any, output_format: str) -> tuple[bytes, str]:
    pil_format, content_type, options = FORMATS[output_format]
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format=pil_format, **options)
    return buffer.getvalue(), content_type


def describe_failure(exc: BaseException) -> str:
    """A one-line error_message a user can act on (no stack trace)."""
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if "OutOfMemory" in name or "out of memory" in text.lower():
        return (
            "out of memory while generating; try fewer/smaller input images, "
            "`preview: true`, or a memory-saving mode on this server"
        )
    message = f"{name}: {text}" if text else name
    return message[:500]


@dataclass
class _CurrentJob:
    """The generations in hand: one, or several of one request run as a batch."""

    gens: list[Generation]
    lease_lost: bool = False
    last_event_at: float = 0.0
    cancelled: set[str] = field(default_factory=set)


class Worker:
    def __init__(
        self,
        settings: Settings,
        *,
        worker_id: str | None = None,
        device: str | None = None,
        registry: ModelRegistry | None = None,
        store: Store | None = None,
        storage: BlobStorage | None = None,
        adapter: ModelAdapter | None = None,
        model: str | None = None,
        parent_pid: int | None = None,
    ) -> None:
        self.settings = settings
        # Started by `editserve serve`: stop if that process goes away (no orphans).
        self.parent_pid = parent_pid
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.device = device
        self.registry = registry or default_registry()
        self.spec: ModelSpec = self.registry.get(model) if model else self.registry.all()[0]
        self.store = store or open_store(settings)
        self.storage = storage or open_storage(settings)
        self._adapter = adapter
        self.stop_event = threading.Event()
        self._current: _CurrentJob | None = None
        self._lock = threading.Lock()
        self._started_at = time.time()
        self._weights: dict[str, Any] | None = None

    # --- lifecycle -----------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        def _stop(signum: int, _frame: Any) -> None:
            log.info(
                "worker %s: signal %s, stopping after the current step", self.worker_id, signum
            )
            self.stop_event.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def _register(self, state: str, error: str | None = None) -> None:
        now = time.time()
        self.store.upsert_worker(
            WorkerRow(
                id=self.worker_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                device=self.device or self.settings.device,
                state=state,
                started_at=self._started_at,
                heartbeat_at=now,
                model=self.spec.id,
                weights=self._weights,
                error=error,
            )
        )

    def load(self) -> None:
        self._register("loading")
        if self._adapter is None:
            adapter_class = self.spec.adapter_class()
            self._adapter = adapter_class(self.settings, device=self.device)
        loaded = self._adapter.load()
        self._weights = {
            "source": loaded.source,
            "revision": loaded.revision,
            "is_tiny": loaded.is_tiny,
            "device": loaded.device,
            "dtype": loaded.dtype,
            **({"details": loaded.details} if loaded.details else {}),
        }
        self.device = loaded.device
        self._register("ready")

    def run(self) -> int:
        """Load the model, then claim and run jobs until asked to stop."""
        heartbeat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        heartbeat.start()
        try:
            self.load()
        except ModelLoadError as exc:
            log.error("worker %s: could not load the model: %s", self.worker_id, exc)
            self._register("failed", error=str(exc))
            return EXIT_LOAD_FAILED
        except Exception as exc:  # noqa: BLE001 - report any load failure with its reason
            log.error("worker %s: model load crashed:\n%s", self.worker_id, traceback.format_exc())
            self._register("failed", error=describe_failure(exc))
            return EXIT_LOAD_FAILED
        log.info("worker %s: ready (%s)", self.worker_id, self._weights)
        while not self.stop_event.is_set():
            try:
                busy = self.run_once()
            except Exception as exc:
                if not is_store_unavailable(exc):
                    raise
                # The database is down or busy: keep the loaded model and try again.
                log.warning("worker %s: job store unavailable (%s); retrying", self.worker_id, exc)
                self.stop_event.wait(min(10.0, self.settings.worker_poll_seconds * 10))
                continue
            if not busy:
                self.stop_event.wait(self.settings.worker_poll_seconds)
        self._register("stopped")
        return EXIT_OK

    def run_once(self) -> bool:
        """Claim and run one job (or one batch). False when the queue was empty."""
        batch = self.settings.max_batch_size if hasattr(self._adapter, "generate_batch") else 1
        gens = self.store.claim_batch(
            self.worker_id,
            [self.spec.id],
            self.settings.lease_seconds,
            self.settings.max_attempts,
            max(1, batch),
        )
        if not gens:
            return False
        with self._lock:
            self._current = _CurrentJob(gens)
        self.store.worker_heartbeat(self.worker_id, "busy")
        try:
            self._process(self._current)
        finally:
            with self._lock:
                self._current = None
            self.store.worker_heartbeat(self.worker_id, "ready")
        return True

    # --- one job (or batch) ------------------------------------------------------------------
    def _process(self, current: _CurrentJob) -> None:
        assert self._adapter is not None
        gens = current.gens
        first = gens[0]
        log.info(
            "worker %s: running %s (attempt %d)",
            self.worker_id,
            ", ".join(g.id for g in gens),
            first.attempts,
        )
        timings: dict[str, float] = {}
        started = time.perf_counter()
        try:
            current.cancelled = {g.id for g in gens if self.store.is_cancel_requested(g.id)}
            if len(current.cancelled) == len(gens):
                raise GenerationCancelled()
            t0 = time.perf_counter()
            images = [load_rgb(self.storage.get(item["key"])) for item in first.inputs]
            timings["input_decode"] = round(time.perf_counter() - t0, 3)
            jobs = [self._job(gen, images) for gen in gens]
            steps = jobs[0].num_inference_steps
            for gen in gens:
                self.store.report_progress(gen, self.worker_id, 0, steps, "encoding", emit=False)

            def on_step(step: int, total: int) -> None:
                self._on_step(current, step, total)

            if len(jobs) == 1:
                results = [self._adapter.generate(jobs[0], on_step)]
            else:
                results = self._adapter.generate_batch(jobs, on_step)  # type: ignore[attr-defined]
        except GenerationCancelled:
            for gen in gens:
                self._finish(gen, Status.CANCELLED, timings=self._timings(gen, timings))
        except WorkerStopping:
            log.info("worker %s: stopping; job(s) go back to the queue", self.worker_id)
            for gen in gens:
                self.store.requeue(gen, self.worker_id)
        except LeaseLost:
            log.warning("worker %s: lease lost; dropping the job(s)", self.worker_id)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
            log.error("worker %s: job failed:\n%s", self.worker_id, traceback.format_exc())
            for gen in gens:
                self._finish(
                    gen,
                    Status.FAILED,
                    error_message=describe_failure(exc),
                    timings=self._timings(gen, timings),
                )
        else:
            for gen, result in zip(gens, results, strict=True):
                if gen.id in current.cancelled or self.store.is_cancel_requested(gen.id):
                    self._finish(gen, Status.CANCELLED, timings=self._timings(gen, timings))
                    continue
                self._store_result(gen, result, self._timings(gen, timings), started)

    def _job(self, gen: Generation, images: list[Any]) -> EditJob:
        params = gen.params
        return EditJob(
            prompt=params["prompt"],
            images=images,
            width=gen.width,
            height=gen.height,
            seed=gen.seed,
            negative_prompt=params.get("negative_prompt", " "),
            num_inference_steps=params.get("num_inference_steps", 40),
            true_cfg_scale=params.get("true_cfg_scale", 4.0),
            vae_area=gen.area,
        )

    @staticmethod
    def _timings(gen: Generation, shared: dict[str, float]) -> dict[str, float]:
        own = dict(shared)
        if gen.started_at is not None:
            own["queue_wait"] = round(max(0.0, gen.started_at - gen.enqueued_at), 3)
        return own

    def _store_result(
        self, gen: Generation, result: EditResult, timings: dict[str, float], started: float
    ) -> None:
        steps = gen.params.get("num_inference_steps", 40)
        try:
            self.store.report_progress(gen, self.worker_id, steps, steps, "storing", emit=False)
            t1 = time.perf_counter()
            output_format = gen.params.get("output_format", "png")
            data, content_type = encode_image(result.image, output_format)
            key = f"outputs/{gen.id}.{output_format}"
            self.storage.put(key, data, content_type)
        except Exception as exc:  # noqa: BLE001 - a storage failure fails this generation
            log.error(
                "worker %s: storing %s failed:\n%s", self.worker_id, gen.id, traceback.format_exc()
            )
            self._finish(gen, Status.FAILED, error_message=describe_failure(exc), timings=timings)
            return
        for name, seconds in result.timings.items():
            timings[name] = round(seconds, 3)
        timings["encode_store"] = round(time.perf_counter() - t1, 3)
        # wall time of the run on the worker, from claim to stored result
        timings["total"] = round(time.perf_counter() - started, 3)
        receipt = {**result.receipt, "weights": self._weights}
        self._finish(gen, Status.SUCCEEDED, result_key=key, timings=timings, receipt=receipt)

    def _finish(self, gen: Generation, status: Status, **fields: Any) -> None:
        if not self.store.finish(gen, self.worker_id, status, **fields):
            log.warning("worker %s: %s ended after losing its lease", self.worker_id, gen.id)

    def _on_step(self, current: _CurrentJob, step: int, total: int) -> None:
        if self.stop_event.is_set():
            raise WorkerStopping()
        if current.lease_lost:
            raise LeaseLost()
        for gen in current.gens:
            if gen.id not in current.cancelled and self.store.is_cancel_requested(gen.id):
                current.cancelled.add(gen.id)
        running = [gen for gen in current.gens if gen.id not in current.cancelled]
        if not running:
            raise GenerationCancelled()
        now = time.monotonic()
        emit = step in (1, total) or (
            now - current.last_event_at >= self.settings.progress_interval_seconds
        )
        if emit:
            current.last_event_at = now
        stage = "denoising" if step < total else "decoding"
        for gen in running:
            if not self.store.report_progress(gen, self.worker_id, step, total, stage, emit=emit):
                raise LeaseLost()

    def _heartbeat_loop(self) -> None:
        interval = max(0.2, min(self.settings.lease_seconds / 3.0, 5.0))
        while not self.stop_event.wait(interval):
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                log.warning("worker %s: the supervising process is gone; stopping", self.worker_id)
                self.stop_event.set()
                return
            try:
                self.store.worker_heartbeat(self.worker_id)
                with self._lock:
                    current = self._current
                if current is not None:
                    for gen in current.gens:
                        if (
                            not self.store.renew_lease(
                                gen.id, self.worker_id, self.settings.lease_seconds
                            )
                            and gen.id not in current.cancelled
                        ):
                            current.lease_lost = True
            except Exception:  # noqa: BLE001 - a missed beat must not kill the worker
                log.exception("worker %s: heartbeat failed", self.worker_id)
