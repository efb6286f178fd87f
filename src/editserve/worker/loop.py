"""The worker: claim a batch, run it (worker/batch.py), repeat. Model-neutral.

One worker process serves one or more models (EDITSERVE_MODELS) on one device and holds one
model adapter in memory at a time. Its claims prefer the loaded model's jobs; it swaps
(unloads the adapter, loads the other model's through its spec) when only other models'
jobs wait, or when one of theirs has waited EDITSERVE_MODEL_SWAP_AFTER_SECONDS after the
worker held its model that long (store.claim_batch: loaded, starved_before). The model's
spec (from the registry) says how a stored request becomes the adapter's job; nothing here
names a model.
A background heartbeat thread renews the leases of the batch in hand and the worker's own
liveness row; the step callback checks for cancellation, shutdown and a lost lease. The
heartbeat is also the watchdog: when the batch in hand has made no step progress for
EDITSERVE_STEP_TIMEOUT_SECONDS (a pipeline stuck where no step callback can stop it), the
process exits with EXIT_HUNG and the supervisor replaces it (worker/supervisor.py).
"""

from __future__ import annotations

import gc
import inspect
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from editserve.blobs import open_storage
from editserve.blobs.base import BlobStorage
from editserve.core.settings import Settings
from editserve.domain.record import Generation, Status
from editserve.domain.stages import Stage, StageReporter, describe, fraction
from editserve.models.base import ModelAdapter, ModelLoadError
from editserve.models.registry import ModelRegistry, default_registry, resolve_models
from editserve.models.spec import ModelSpec
from editserve.store import WorkerStore, is_store_unavailable, open_store
from editserve.store.rows import NextClaim, WorkerRow, WorkerState
from editserve.worker.batch import BatchInHand, BatchRun
from editserve.worker.output import describe_failure
from editserve.worker.ready import ready_line, weights_record
from editserve.worker.sweep import claim_size

log = logging.getLogger("editserve.worker")

EXIT_OK = 0
EXIT_LOAD_FAILED = 3
EXIT_HUNG = 4  # the watchdog: no step progress for EDITSERVE_STEP_TIMEOUT_SECONDS


class Worker:
    def __init__(
        self,
        settings: Settings,
        *,
        worker_id: str | None = None,
        device: str | None = None,
        registry: ModelRegistry | None = None,
        store: WorkerStore | None = None,
        storage: BlobStorage | None = None,
        adapter: ModelAdapter | None = None,
        model: str | None = None,
        models: Sequence[str] | None = None,
        parent_pid: int | None = None,
    ) -> None:
        registry = registry or default_registry()
        self.settings = settings = resolve_models(settings, registry)
        # Started by `editserve serve`: stop if that process goes away (no orphans).
        self.parent_pid = parent_pid
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.device = device
        # The models it serves (`model`: only that one); `spec` is the one in memory.
        names = [model] if model else list(models or settings.models)
        self.specs = list({s.id: s for s in map(registry.get, names)}.values()) or [
            registry.default
        ]
        self.spec: ModelSpec = self.specs[0]
        self.swaps = 0  # times it unloaded one model to load another
        self._loaded_since = time.monotonic()
        self.store = store or open_store(settings, worker=True)
        self.storage = storage or open_storage(settings)
        self._adapter = adapter
        self.stop_event = threading.Event()
        # How the watchdog ends a hung process (a test replaces it); the supervisor
        # releases its leases and starts another.
        self.exit: Callable[[int], None] = _exit_now
        self._batch: BatchInHand | None = None
        self._next_gens: list[Generation] = []  # claimed with a finish, to run next
        self._lock = threading.Lock()
        self._started_at = time.time()
        self._load_began = self._started_at  # of the model in memory (a swap loads again)
        self._weights: dict[str, Any] | None = None
        # The start-up stage (editserve.domain.stages), written through the store as it goes.
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
                models=[spec.id for spec in self.specs],
                swaps=self.swaps,
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
            # its own weights and revision (EDITSERVE_MODEL_WEIGHTS_PER_MODEL)
            own = self.settings.for_model(self.spec.id)
            self._adapter = adapter_class(own, device=self.device, **extra)
        loaded = self._adapter.load()
        self._loaded_since = time.monotonic()
        self._weights = weights_record(self.spec.id, loaded)
        self.device = loaded.device
        self._stage = Stage.READY.value
        seconds = round(time.time() - self._load_began, 1)
        self._stage_detail = {"seconds": seconds}
        self._register(WorkerState.READY)
        log.info("worker %s: %s", self.worker_id, ready_line(self._weights, seconds))
        log.debug("worker %s: loaded %s", self.worker_id, self._weights)

    def run(self) -> int:
        """Load the model, then claim and run jobs until asked to stop."""
        heartbeat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        heartbeat.start()
        if not self._load_or_report():
            return EXIT_LOAD_FAILED
        while not self.stop_event.is_set():
            try:
                if not self.run_once():  # idle: woken by an enqueue on any node, else polls
                    self.store.wait_for_work(self.settings.worker_poll_seconds)
            except Exception as exc:
                if not is_store_unavailable(exc):
                    raise
                # The database is down or busy: keep the loaded model and try again.
                log.warning("worker %s: job store unavailable (%s); retrying", self.worker_id, exc)
                self.stop_event.wait(min(10.0, self.settings.worker_poll_seconds * 10))
        for gen in self._next_gens:  # claimed with the last finish, not started: back
            self.store.requeue(gen, self.worker_id)
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

    def starved_before(self) -> float | None:
        """Jobs of other models enqueued at or before this time go before the loaded
        model's: none until the worker has held its model swap_after seconds."""
        wait = self.settings.model_swap_after_seconds
        if len(self.specs) < 2 or time.monotonic() - self._loaded_since < wait:
            return None
        return time.time() - wait

    def claim_terms(self) -> NextClaim | None:
        """What this worker claims next (None once it is stopping): its models, loaded first."""
        if self.stop_event.is_set():
            return None
        adapter = self._adapter
        size = self.settings.max_batch_size if adapter is None or adapter.supports_batch else 1
        return NextClaim(
            models=tuple(spec.id for spec in self.specs),
            lease_seconds=self.settings.lease_seconds,
            max_attempts=self.settings.max_attempts,
            max_batch=claim_size(size),  # a sweep's cells at once (worker/sweep.py)
            loaded=self.spec.id if adapter is not None else None,
            starved_before=self.starved_before(),
        )

    def run_once(self) -> bool:
        """Claim and run one job (or one batch), swapping models first if the job is
        another model's. False when the queue was empty."""
        gens, self._next_gens = self._next_gens, []  # claimed with the last finish
        terms = None if gens else self.claim_terms()
        if terms is not None:
            gens = self.store.claim_batch(
                self.worker_id, list(terms.models), terms.lease_seconds, terms.max_attempts,
                terms.max_batch, loaded=terms.loaded, starved_before=terms.starved_before,
            )  # fmt: skip
        if not gens:
            return False
        batch = BatchInHand(gens)
        with self._lock:
            self._batch = batch  # from now on the heartbeat renews its leases (a swap)
        swapped = gens[0].model != self.spec.id or self._adapter is None
        try:
            if swapped and not self._swap_for(batch):
                return True
        except BaseException:
            with self._lock:
                self._batch = None
            raise
        self.store.worker_heartbeat(self.worker_id, WorkerState.BUSY)
        assert self._adapter is not None, "load() first"
        try:
            run = BatchRun(
                settings=self.settings,
                store=self.store,
                storage=self.storage,
                spec=self.spec,
                adapter=self._adapter,
                worker_id=self.worker_id,
                # receipts name the model, its weights, and the worker's swaps
                weights={
                    **(self._weights or {}),
                    "swapped_in": swapped,
                    "worker_swaps": self.swaps,
                },
                stopping=self.stop_event,
                batch=batch,
                then=self.claim_terms,
            )
            run.run()
            self._next_gens = run.next_gens
        finally:
            with self._lock:
                self._batch = None
            self.store.worker_heartbeat(self.worker_id, WorkerState.READY)
        return True

    # --- model swaps ---------------------------------------------------------------------
    def _swap_for(self, batch: BatchInHand) -> bool:
        """Hold the batch's model: unload the adapter in memory, load the batch's model's
        (reporting the stages as at start-up). False if it failed to load: the batch
        failed with the reason, and the worker goes on (its other models still serve)."""
        spec = next(s for s in self.specs if s.id == batch.gens[0].model)
        log.info("worker %s: swapping %s for %s", self.worker_id, self.spec.id, spec.id)
        if self._adapter is not None or spec.id != self.spec.id:
            self.swaps += 1
        self._unload()
        self.spec, self._stage, self._stage_detail = spec, Stage.STARTING.value, {}
        self._load_began = time.time()
        if not self._load_or_report():
            self._adapter = None
            reason = self._stage_detail.get("reason") or "the model could not be loaded"
            for gen in batch.gens:
                self.store.finish(gen, self.worker_id, Status.FAILED, error_message=reason)
            with self._lock:
                self._batch = None
            return False
        assert self._adapter is not None
        if not self._adapter.supports_batch:  # claimed as a batch for the previous model
            self._give_back(batch, batch.gens[1:])
        return True

    def _give_back(self, batch: BatchInHand, gens: list[Generation]) -> None:
        for gen in gens:
            self.store.requeue(gen, self.worker_id)
        batch.gens = [gen for gen in batch.gens if gen not in gens]

    def _unload(self) -> None:
        """Drop the adapter in memory (its unload() first, if it has one) and free what
        it held, so the next model has the device to itself."""
        adapter, self._adapter, self._weights = self._adapter, None, None
        if adapter is None:
            return
        unload = getattr(adapter, "unload", None)
        if callable(unload):
            unload()
        del adapter
        gc.collect()
        torch = sys.modules.get("torch")  # only where a real adapter imported it
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

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
            if self.hung_for() is not None:
                self._exit_hung()
                return

    def hung_for(self) -> float | None:
        """Seconds without step progress of the batch in hand, once past the limit
        (EDITSERVE_STEP_TIMEOUT_SECONDS); None while it moves, or when there is none."""
        limit = self.settings.step_timeout_seconds
        with self._lock:
            batch = self._batch
        if not limit or batch is None or not batch.watched:
            return None
        stalled = time.monotonic() - batch.progress_at
        return stalled if stalled >= limit else None

    def _exit_hung(self) -> None:
        """The pipeline is stuck in a call that no step callback can interrupt: end the
        process. Its leases are released by the supervisor (or run out), and the job is
        claimed again with this attempt counted (EDITSERVE_MAX_ATTEMPTS bounds a job that
        hangs every time)."""
        with self._lock:
            ids = ", ".join(g.id for g in self._batch.gens) if self._batch else ""
        log.error(
            "worker %s: no step progress on %s for %.0f s (EDITSERVE_STEP_TIMEOUT_SECONDS); "
            "exiting with code %d to be replaced",
            self.worker_id,
            ids,
            self.settings.step_timeout_seconds,
            EXIT_HUNG,
            extra={"generation_id": ids, "worker_id": self.worker_id, "stage": "hung"},
        )
        self.exit(EXIT_HUNG)

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


def _exit_now(code: int) -> None:
    """End the process at once (the hung thread cannot be joined), logs flushed first."""
    logging.shutdown()
    os._exit(code)
