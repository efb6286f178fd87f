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
from editserve.models.base import EditJob, GenerationCancelled, ModelAdapter, ModelLoadError
from editserve.models.registry import ModelRegistry, ModelSpec, default_registry
from editserve.storage import open_storage
from editserve.storage.base import BlobStorage
from editserve.store.base import WorkerRow, open_store
from editserve.store.sqlite import SqliteStore

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
    gen: Generation
    lease_lost: bool = False
    last_event_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class Worker:
    def __init__(
        self,
        settings: Settings,
        *,
        worker_id: str | None = None,
        device: str | None = None,
        registry: ModelRegistry | None = None,
        store: SqliteStore | None = None,
        storage: BlobStorage | None = None,
        adapter: ModelAdapter | None = None,
        model: str | None = None,
    ) -> None:
        self.settings = settings
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
            if not self.run_once():
                self.stop_event.wait(self.settings.worker_poll_seconds)
        self._register("stopped")
        return EXIT_OK

    def run_once(self) -> bool:
        """Claim and run one job. False when the queue was empty."""
        gen = self.store.claim(
            self.worker_id,
            [self.spec.id],
            self.settings.lease_seconds,
            self.settings.max_attempts,
        )
        if gen is None:
            return False
        with self._lock:
            self._current = _CurrentJob(gen)
        self.store.worker_heartbeat(self.worker_id, "busy")
        try:
            self._process(gen)
        finally:
            with self._lock:
                self._current = None
            self.store.worker_heartbeat(self.worker_id, "ready")
        return True

    # --- one job -------------------------------------------------------------------------
    def _process(self, gen: Generation) -> None:
        assert self._adapter is not None
        log.info("worker %s: running %s (attempt %d)", self.worker_id, gen.id, gen.attempts)
        timings: dict[str, float] = {}
        if gen.started_at is not None:
            timings["queue_wait"] = round(max(0.0, gen.started_at - gen.enqueued_at), 3)
        try:
            if self.store.is_cancel_requested(gen.id):
                raise GenerationCancelled()
            t0 = time.perf_counter()
            images = [load_rgb(self.storage.get(item["key"])) for item in gen.inputs]
            timings["input_decode"] = round(time.perf_counter() - t0, 3)
            params = gen.params
            job = EditJob(
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
            self.store.report_progress(
                gen, self.worker_id, 0, job.num_inference_steps, "encoding", emit=False
            )
            result = self._adapter.generate(job, lambda k, n: self._on_step(gen, k, n))
            for name, seconds in result.timings.items():
                timings[name] = round(seconds, 3)
            self.store.report_progress(
                gen,
                self.worker_id,
                job.num_inference_steps,
                job.num_inference_steps,
                "storing",
                emit=False,
            )
            t1 = time.perf_counter()
            output_format = params.get("output_format", "png")
            data, content_type = encode_image(result.image, output_format)
            key = f"outputs/{gen.id}.{output_format}"
            self.storage.put(key, data, content_type)
            timings["encode_store"] = round(time.perf_counter() - t1, 3)
        except GenerationCancelled:
            log.info("worker %s: %s cancelled", self.worker_id, gen.id)
            self.store.finish(gen, self.worker_id, Status.CANCELLED, timings=timings)
        except WorkerStopping:
            log.info("worker %s: stopping; %s goes back to the queue", self.worker_id, gen.id)
            self.store.requeue(gen, self.worker_id)
        except LeaseLost:
            log.warning("worker %s: lease of %s lost; dropping it", self.worker_id, gen.id)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
            log.error("worker %s: %s failed:\n%s", self.worker_id, gen.id, traceback.format_exc())
            self.store.finish(
                gen,
                self.worker_id,
                Status.FAILED,
                error_message=describe_failure(exc),
                timings=timings,
            )
        else:
            receipt = {**result.receipt, "weights": self._weights}
            if not self.store.finish(
                gen,
                self.worker_id,
                Status.SUCCEEDED,
                result_key=key,
                timings=timings,
                receipt=receipt,
            ):
                log.warning("worker %s: %s finished after losing its lease", self.worker_id, gen.id)

    def _on_step(self, gen: Generation, step: int, total: int) -> None:
        current = self._current
        if self.stop_event.is_set():
            raise WorkerStopping()
        if current is not None and current.lease_lost:
            raise LeaseLost()
        if self.store.is_cancel_requested(gen.id):
            raise GenerationCancelled()
        now = time.monotonic()
        emit = step == total or step == 1
        if (
            current is not None
            and now - current.last_event_at >= self.settings.progress_interval_seconds
        ):
            emit = True
        if emit and current is not None:
            current.last_event_at = now
        stage = "denoising" if step < total else "decoding"
        if not self.store.report_progress(gen, self.worker_id, step, total, stage, emit=emit):
            raise LeaseLost()

    def _heartbeat_loop(self) -> None:
        interval = max(0.2, min(self.settings.lease_seconds / 3.0, 5.0))
        while not self.stop_event.wait(interval):
            try:
                self.store.worker_heartbeat(self.worker_id)
                with self._lock:
                    current = self._current
                if current is not None and not self.store.renew_lease(
                    current.gen.id, self.worker_id, self.settings.lease_seconds
                ):
                    current.lease_lost = True
            except Exception:  # noqa: BLE001 - a missed beat must not kill the worker
                log.exception("worker %s: heartbeat failed", self.worker_id)
