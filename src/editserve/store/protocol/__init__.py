"""The Store protocol: what the API, the workers and the CLI may ask of the job store.

One implementation, :class:`~editserve.store.core.QueueStore`, runs over two SQL dialects
(``SqliteStore`` for one machine, ``PostgresStore`` for API nodes and workers on many
machines); tests/contract holds both to this protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from editserve.domain.record import Event, Generation, Status
from editserve.store.cluster import ClusterFact
from editserve.store.retention import OldGeneration, PruneLease
from editserve.store.rows import (
    ApiKeyRow,
    DeliveryRow,
    NextClaim,
    UploadRow,
    WorkerRow,
    WorkerState,
)


class Store(Protocol):
    """The job store: queue, records, events, keys, uploads and workers.

    Every method is synchronous and safe to call from several threads. Methods that change
    a generation's state are atomic and refuse (return False/None, or leave the generation
    out of their result) when the caller no longer holds the job. Every event is written in
    the same transaction as the state change it reports.
    """

    def close(self) -> None: ...

    # keys
    def insert_key(self, key: ApiKeyRow) -> None: ...
    def key_by_hash(self, key_hash: str) -> ApiKeyRow | None:
        """The active (not revoked) key with this hash."""
        ...

    def list_keys(self) -> list[ApiKeyRow]: ...
    def revoke_key(self, key_id: str) -> bool:
        """False if there is no such active key."""
        ...

    def count_active_keys(self) -> int: ...

    # the cluster record (see store/cluster.py)
    def cluster_facts(self) -> dict[str, ClusterFact]:
        """Every fact of the cluster record, by name."""
        ...

    def record_cluster_facts(self, facts: Mapping[str, str], by: str) -> dict[str, ClusterFact]:
        """Record the facts not recorded yet (insert-if-absent, one transaction under the
        cluster lock: nodes starting together record one node's values); return them all."""
        ...

    def replace_cluster_facts(self, facts: Mapping[str, str], by: str) -> dict[str, ClusterFact]:
        """Record these values over the ones there; return every fact."""
        ...

    def create_first_key(self, key: ApiKeyRow, by: str) -> bool:
        """Insert key if no key is active and record it as the cluster's first key, made by
        the node ``by``; False (nothing written) otherwise. Race-safe across nodes."""
        ...

    # uploads
    def insert_upload(self, upload: UploadRow) -> None: ...
    def get_upload(self, upload_id: str, owner: str) -> UploadRow | None: ...
    def upload_owner(self, upload_id: str) -> str | None:
        """The key id that owns an upload; None if there is no such upload."""
        ...

    def owns_blob(self, owner: str, key: str) -> bool:
        """Whether owner may use the blob ``key``: its own generation's output, or an input
        it uploaded or edited with. Outputs are found by the generation id in the key."""
        ...

    # enqueue and read
    def insert_generations(self, generations: Sequence[Generation]) -> None:
        """Insert one enqueue request's generations atomically, in queue (FIFO) order."""
        ...

    def get_generation(self, generation_id: str, owner: str | None = None) -> Generation | None:
        """The generation, if it exists and (when owner is given) belongs to owner."""
        ...

    def list_generations(
        self,
        owner: str,
        *,
        statuses: Sequence[Status] | None = None,
        model: str | None = None,
        limit: int = 50,
        offset: int = 0,
        newest_first: bool = True,
    ) -> tuple[list[Generation], int]:
        """One page of owner's generations and the total matching (empty filter = none)."""
        ...

    def count_active(self, owner: str) -> int:
        """Owner's queued and processing generations."""
        ...

    def count_generations(
        self, owner: str, statuses: Sequence[Status] | None = None, model: str | None = None
    ) -> int:
        """Owner's generations of these statuses (all if None), of model if given; read
        from counters and the active index, never by scanning the history."""
        ...

    def by_idempotency_key(self, owner: str, key: str) -> list[Generation]: ...
    def queue_position(self, gen: Generation) -> int:
        """How many queued generations run before this one (0 = next)."""
        ...

    def recent_run_seconds(self, model: str, limit: int = 20) -> float | None:
        """Mean wall time of the last succeeded runs of a model (for ETAs)."""
        ...

    def status_counts(self) -> dict[tuple[str, str], int]:
        """(model, status) → number of generations, over all keys (for /metrics)."""
        ...

    # cancel
    def request_cancel(self, generation_id: str, owner: str) -> Generation | None:
        """Queued → cancelled now; processing → flagged for its worker; terminal → as is.

        None if owner has no such generation; else the generation after the change.
        """
        ...

    def is_cancel_requested(self, generation_id: str) -> bool: ...

    # worker side
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
    ) -> bool:
        """Move a held job to a terminal status and emit its event; False if not held."""
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

    def release_worker_leases(self, worker_id: str) -> int:
        """The worker is known dead: its jobs may be claimed now instead of at lease end."""
        ...

    def record_worker_restart(self, worker_id: str) -> None:
        """The worker process exited unexpectedly and another takes its place: counted
        on its row (workers.restarts, /metrics editserve_worker_restarts_total)."""
        ...

    def worker_restarts(self) -> dict[str, int]:
        """Restarts so far by host."""
        ...

    def record_stage_timings(self, model: str, timings: Mapping[str, float]) -> None:
        """A succeeded generation's stage timings, counted in the latency histograms."""
        ...

    def stage_latency(self) -> Sequence[tuple[str, str, str, int, float]]:
        """(model, stage, le, observations in that bucket, their seconds)."""
        ...

    # workers
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

    # events
    def events_after(self, owner: str, after_id: int, limit: int = 500) -> list[Event]:
        """Owner's events with ids above after_id, by id (ids become visible in order)."""
        ...

    def events_after_any(self, after_id: int, limit: int = 500) -> list[Event]:
        """Every key's events with ids above after_id, by id (the event hub's one read)."""
        ...

    def last_event_id(self, owner: str | None = None) -> int:
        """The id of owner's last event (of any key's if owner is None); 0 if none."""
        ...

    def wait_for_work(self, timeout: float) -> bool:
        """An idle worker's wait: True as soon as a hint says a job may be queued (an
        enqueue on any node), False after timeout. Only a hint: the claim decides."""
        ...

    async def wait_for_events(self, owner: str | None, after_id: int, timeout: float) -> bool:
        """Wait up to timeout for a hint that owner (any key if None) has events after
        after_id.

        True: look now (a hint arrived, or one had arrived already). False: timed out, or
        no hint reached this store object (SQLite hints only its own writes). Only a hint:
        events_after stays the truth, so a reader that polls after a False loses nothing.
        """
        ...

    # webhooks (the outbox; see store/outbox.py)
    def claim_deliveries(self, limit: int, lease_seconds: float) -> list[DeliveryRow]:
        """Due webhook deliveries nobody is sending, leased to the caller."""
        ...

    def finish_delivery(
        self,
        delivery_id: str,
        delivered: bool,
        error: str | None,
        status_code: int | None,
        retry_at: float | None,
    ) -> None:
        """Delivered; or failed this time (retry at ``retry_at``; None: give up)."""
        ...

    def deliveries_of(self, generation_ids: Sequence[str]) -> dict[str, list[DeliveryRow]]: ...
    def webhook_secret(self, owner: str, candidate: str) -> str: ...
    def key_webhook_url(self, owner: str) -> str | None: ...
    def set_key_webhook(self, key_id: str, url: str | None) -> bool: ...
    def rotate_webhook_secret(self, key_id: str, secret: str) -> bool: ...

    # retention (`editserve prune`; see store/retention.py)
    def take_prune_lease(self, holder: str, ttl_seconds: float) -> bool:
        """Take the one prune lease for ttl_seconds (or renew it, if holder has it)."""
        ...

    def release_prune_lease(self, holder: str, finished: bool) -> None: ...
    def prune_lease(self) -> PruneLease: ...
    def prune_owners(self) -> list[str]: ...
    def old_generations(
        self, owner: str, cutoff: float, after: int, limit: int
    ) -> tuple[list[OldGeneration], bool]:
        """Owner's oldest generations (numbered after ``after``) ended before cutoff: only a
        run from the first; (them, True when the key has no more to look at)."""
        ...

    def delete_generations(self, ids: Sequence[str], cutoff: float) -> dict[str, int]:
        """Delete these ended generations with their webhook deliveries, noting their
        blobs, in one transaction; never a live one. Counts by kind."""
        ...

    def old_uploads(
        self, cutoff: float, limit: int, after: tuple[float, str] = (-1.0, "")
    ) -> list[tuple[str, str, float]]: ...
    def delete_uploads(self, ids: Sequence[str], cutoff: float) -> int: ...
    def event_walk(self, after: int, limit: int) -> list[tuple[int, float, str | None]]: ...
    def delete_events(self, ids: Sequence[int], cutoff: float) -> int: ...
    def pending_blobs(self, limit: int) -> list[tuple[str, str]]: ...
    def blob_in_use(self, key: str) -> bool: ...
    def forget_blob(self, key: str, kind: str, deleted: bool) -> None: ...
    def blob_users(self, keys: Sequence[str]) -> dict[str, set[str]]: ...
    def pruned_totals(self) -> dict[str, int]: ...


__all__ = ["Store"]
