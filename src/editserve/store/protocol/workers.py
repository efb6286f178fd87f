"""The store's roles for workers: the queue a worker works, the workers' rows, and the
fleet-wide counts read from them (see the package doc)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from editserve.domain.record import Generation, Status
from editserve.store.rows import (
    NextClaim,
    WorkerRow,
    WorkerState,
)


class JobQueue(Protocol):
    """The queue as a worker works it: claim, lease, progress, finish, requeue.

    Used by worker/batch.py; worker/loop.py takes it with WorkerRegistry (WorkerStore).
    """

    def claim(
        self, worker_id: str, models: Sequence[str], lease_seconds: float, max_attempts: int
    ) -> Generation | None:
        """Take the next job (or one whose lease ran out) and lease it to this worker."""
        ...

    def claim_batch(
        self,
        worker_id: str,
        models: Sequence[str],
        lease_seconds: float,
        max_attempts: int,
        max_batch: int,
        *,
        loaded: str | None = None,
        starved_before: float | None = None,
    ) -> list[Generation]:
        """Claim the next job plus up to max_batch-1 queued siblings of its enqueue request
        (same parameters but the seed), so they can run as one pipeline call.

        Any of ``models``, in queue order (priority, then FIFO), except that at equal
        priority a job of the ``loaded`` model goes before jobs of the other models, unless
        one of theirs was enqueued at or before ``starved_before`` (None: none starves):
        a worker keeps its model while its jobs wait, and swaps when only other models'
        jobs wait or one of them starves. One statement (transaction) per claim.

        First reaps expired leases that must not run again: cancelled if a cancel was asked,
        failed once max_attempts were used. Emits a started event per claimed job.
        """
        ...

    def renew_lease(self, generation_id: str, worker_id: str, lease_seconds: float) -> bool:
        """Extend the lease from now; False if this worker no longer holds the job."""
        ...

    def report_progress(
        self,
        gens: Sequence[Generation],
        worker_id: str,
        step: int,
        total: int,
        stage: str,
        *,
        emit: bool,
    ) -> dict[str, bool]:
        """Record a step for every given job this worker still holds, in one statement.

        Emits a progress event per held job when emit is true (same transaction). Returns
        {generation_id: cancel_requested} for the jobs still held: an id missing from the
        result means its lease is lost and the worker must drop it.
        """
        ...

    def finish(
        self,
        gen: Generation,
        worker_id: str,
        status: Status,
        *,
        result_key: str | None = None,
        error_message: str | None = None,
        timings: dict[str, float] | None = None,
        receipt: dict[str, Any] | None = None,
        layer_keys: list[str] | None = None,
        gpu_seconds: float | None = None,
        output_megapixels: float | None = None,
    ) -> bool:
        """Move a held job to a terminal status and emit its event; False if not held.
        ``layer_keys``: a layered model's outputs in order (``result_key`` is the first).
        ``gpu_seconds``, ``output_megapixels``: what the run cost; with gpu_seconds the
        finish adds the generation to its key's usage (usage_hours)."""
        ...

    def finish_and_claim(
        self, gen: Generation, worker_id: str, status: Status, then: NextClaim, **fields: Any
    ) -> tuple[bool, list[Generation]]:
        """``finish`` (with the same keyword fields), then ``claim_batch`` on ``then``'s
        terms, in one transaction: (False if the job was not held, the claimed jobs)."""
        ...

    def requeue(self, gen: Generation, worker_id: str) -> bool:
        """Give a held job back without counting the attempt (the worker is shutting down)."""
        ...

    def is_cancel_requested(self, generation_id: str) -> bool: ...

    def wait_for_work(self, timeout: float) -> bool:
        """An idle worker's wait: True as soon as a hint says a job may be queued (an
        enqueue on any node), False after timeout. Only a hint: the claim decides."""
        ...

    def record_stage_timings(self, model: str, timings: Mapping[str, float]) -> None:
        """A succeeded generation's stage timings, counted in the latency histograms."""
        ...


class WorkerRegistry(Protocol):
    """The workers: each one's row and heartbeats, and what happens when one dies.

    Used by worker/supervisor.py and services/catalog.py (readiness); with others by the
    worker loop, the generation views and /metrics.
    """

    def upsert_worker(self, worker: WorkerRow) -> None:
        """Register a worker, or update it (its first started_at is kept)."""
        ...

    def worker_heartbeat(self, worker_id: str, state: WorkerState | None = None) -> None:
        """Stamp the heartbeat (and the state, if given); unknown workers are ignored."""
        ...

    def report_worker_stage(
        self, worker_id: str, stage: str, detail: dict[str, Any] | None = None
    ) -> None:
        """Record where the worker's start-up is (a Stage value) with its figures (JSON-able),
        and stamp its heartbeat; unknown workers are ignored."""
        ...

    def list_workers(self, fresh_within: float | None = None) -> list[WorkerRow]:
        """Workers by start time; only those that beat within fresh_within seconds if given."""
        ...

    def release_worker_leases(self, worker_id: str) -> int:
        """The worker is known dead: its jobs may be claimed now instead of at lease end."""
        ...

    def record_worker_restart(self, worker_id: str) -> None:
        """The worker process exited unexpectedly and another takes its place: counted
        on its row (workers.restarts, /metrics editserve_worker_restarts_total)."""
        ...


class StatsStore(Protocol):
    """Fleet-wide counts over every key and worker, for /metrics and `editserve status`.

    Used by services/metrics.py (MetricsStore).
    """

    def status_counts(self) -> dict[tuple[str, str], int]:
        """(model, status) → number of generations, over all keys (for /metrics)."""
        ...

    def worker_restarts(self) -> dict[str, int]:
        """Restarts so far by host."""
        ...

    def stage_latency(self) -> Sequence[tuple[str, str, str, int, float]]:
        """(model, stage, le, observations in that bucket, their seconds)."""
        ...


__all__ = ["JobQueue", "WorkerRegistry", "StatsStore"]
