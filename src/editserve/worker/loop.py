"""The worker: claim a batch, run it (worker/batch.py), repeat. Model-neutral.

One worker process owns one model adapter on one device. The model's spec (from the
registry) says how a stored request becomes the adapter's job; nothing here names a model.
A background heartbeat thread renews the leases of the batch in hand and the worker's own
liveness row; the step callback checks for cancellation, shutdown and a lost lease.
"""

from __future__ import annotations

import inspect
import logging
import os
import signal
import socket
import threading
import time
import traceback
from typing import Any

from editserve.config import Settings
from editserve.models.base import ModelAdapter, ModelLoadError
from editserve.models.registry import ModelRegistry, default_registry
from editserve.models.spec import ModelSpec
from editserve.startup import Stage, StageReporter, describe, fraction
from editserve.storage import open_storage
from editserve.storage.base import BlobStorage
from editserve.store import Store, is_store_unavailable, open_store
from editserve.store.rows import WorkerRow, WorkerState
from editserve.worker.batch import BatchInHand, BatchRun
from editserve.worker.output import describe_failure

log = logging.getLogger("editserve.worker")

EXIT_OK = 0
EXIT_LOAD_FAILED = 3


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
        registry = registry or default_registry()
        self.spec: ModelSpec = registry.get(model) if model else registry.default
        self.store = store or open_store(settings)
        self.storage = storage or open_storage(settings)
        self._adapter = adapter
        self.stop_event = threading.Event()
        self._batch: BatchInHand | None = None
        self._lock = threading.Lock()
        self._started_at = time.time()
        self._weights: dict[str, Any] | None = None
        # The start-up stage (editserve.startup), written through the store as it goes.
        self._stage: str = Stage.STARTING.value
        self._stage_detail: dict[str, Any] = {}
        self._stage_writer = StageReporter(
            lambda stage, detail: self.store.report_worker_stage(self.worker_id, stage, detail)
        )

    # --- lifecycle -----------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        def _stop(signum: int, _frame: Any) -> None:
            log.info(
                "worker %s: signal %s, stopping after the current step", self.worker_id, signum
            )
            self.stop_event.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def _register(self, state: WorkerState, error: str | None = None) -> None:
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
                stage=self._stage,
                stage_detail=self._stage_detail or None,
            )
        )

    def report_stage(self, stage: str, detail: dict[str, Any] | None = None) -> None:
        """Where the start-up is (a StageCallback the adapter calls): logged when it changes,
        written to the store (at most once a second while a stage repeats, e.g. a download)."""
        stage, detail = str(stage), dict(detail or {})
        if self._worth_logging(stage, detail):
            log.info("worker %s: %s", self.worker_id, describe(stage, detail))
        self._stage, self._stage_detail = stage, detail
        self._stage_writer(stage, detail)

    def _worth_logging(self, stage: str, detail: dict[str, Any]) -> bool:
        """Every new stage and step; a download at each tenth of its bytes."""
        if stage != self._stage:
            return True
        if stage != Stage.DOWNLOADING:
            return detail != self._stage_detail
        tenth = int(10 * (fraction(detail) or 0.0))
        return tenth > int(10 * (fraction(self._stage_detail) or 0.0))

    def load(self) -> None:
        """Load the model (the adapter named by the spec) and report it ready."""
        self._register(WorkerState.LOADING)
        if self._adapter is None:
            adapter_class = self.spec.adapter_class()
            extra = (
                {"on_stage": self.report_stage}
                if "on_stage" in inspect.signature(adapter_class).parameters
                else {}
            )
            self._adapter = adapter_class(self.settings, device=self.device, **extra)
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
        self._stage = Stage.READY.value
        self._stage_detail = {"seconds": round(time.time() - self._started_at, 1)}
        self._register(WorkerState.READY)

    def run(self) -> int:
        """Load the model, then claim and run jobs until asked to stop."""
        heartbeat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        heartbeat.start()
        if not self._load_or_report():
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
        self._register(WorkerState.STOPPED)
        return EXIT_OK

    def _load_or_report(self) -> bool:
        try:
            self.load()
        except ModelLoadError as exc:
            log.error("worker %s: could not load the model: %s", self.worker_id, exc)
            self._failed(str(exc))
            return False
        except Exception as exc:  # noqa: BLE001 - report any load failure with its reason
            log.error("worker %s: model load crashed:\n%s", self.worker_id, traceback.format_exc())
            self._failed(describe_failure(exc, "loading the model"))
            return False
        return True

    def _failed(self, reason: str) -> None:
        self._stage_detail = {"reason": reason, "during": self._stage}
        self._stage = Stage.FAILED.value
        self._register(WorkerState.FAILED, error=reason)

    def run_once(self) -> bool:
        """Claim and run one job (or one batch). False when the queue was empty."""
        assert self._adapter is not None, "load() first"
        batch_size = self.settings.max_batch_size if self._adapter.supports_batch else 1
        gens = self.store.claim_batch(
            self.worker_id,
            [self.spec.id],
            self.settings.lease_seconds,
            self.settings.max_attempts,
            max(1, batch_size),
        )
        if not gens:
            return False
        batch = BatchInHand(gens)
        with self._lock:
            self._batch = batch
        self.store.worker_heartbeat(self.worker_id, WorkerState.BUSY)
        try:
            BatchRun(
                settings=self.settings,
                store=self.store,
                storage=self.storage,
                spec=self.spec,
                adapter=self._adapter,
                worker_id=self.worker_id,
                weights=self._weights,
                stopping=self.stop_event,
                batch=batch,
            ).run()
        finally:
            with self._lock:
                self._batch = None
            self.store.worker_heartbeat(self.worker_id, WorkerState.READY)
        return True

    # --- heartbeat -----------------------------------------------------------------------
    def _heartbeat_loop(self) -> None:
        interval = max(0.2, min(self.settings.lease_seconds / 3.0, 5.0))
        while not self.stop_event.wait(interval):
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                log.warning("worker %s: the supervising process is gone; stopping", self.worker_id)
                self.stop_event.set()
                return
            try:
                self._beat()
            except Exception:  # noqa: BLE001 - a missed beat must not kill the worker
                log.exception("worker %s: heartbeat failed", self.worker_id)

    def _beat(self) -> None:
        self.store.worker_heartbeat(self.worker_id)
        self._stage_writer.flush()  # a start-up stage held back (a stalled download)
        with self._lock:
            batch = self._batch
        if batch is None:
            return
        for gen in batch.gens:
            renewed = self.store.renew_lease(gen.id, self.worker_id, self.settings.lease_seconds)
            if not renewed and gen.id not in batch.cancelled:
                batch.lease_lost = True
