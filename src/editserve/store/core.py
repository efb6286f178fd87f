"""The job store, written once: the generation state machine over a SQL dialect.

    queued ──claim──▶ processing ──finish──▶ succeeded | failed | cancelled
      │  ▲               │  │
      │  └───requeue─────┘  └──lease expired──▶ claimed again, or reaped:
      │                                         cancelled (a cancel was asked) or
      │                                         failed (no attempts left)
      └──request_cancel──▶ cancelled

A worker *holds* a generation while it is processing under its worker_id; every write a
worker makes is refused once it no longer holds it. This module decides every transition
and every event; the dialect (``store/sqlite.py``, ``store/postgres.py``) runs the named
statements of ``queries/<dialect>.sql`` and receives statuses as parameters, so no status
is spelled in SQL. Events are emitted in the transaction of the change they report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from editserve.generations import events
from editserve.generations.record import ACTIVE, TERMINAL, Event, Generation, Status
from editserve.store.dialect import Dialect, Row, Tx, dumps
from editserve.store.rows import ApiKeyRow, UploadRow, WorkerRow, WorkerState

QUEUED = Status.QUEUED.value
HELD = Status.PROCESSING.value  # the status of a generation a worker holds a lease on
CLAIMED_STAGE = "starting"  # the stage of a job just claimed, before its first progress


def _json_or_none(value: Any) -> str | None:
    return dumps(value) if value is not None else None


def _gens(rows: list[Row]) -> list[Generation]:
    return [Generation.from_row(row) for row in rows]


def _count(row: Row | None) -> int:
    return int(row["n"]) if row and row["n"] is not None else 0


class QueueStore:
    """The Store protocol over one dialect; thread-safe as far as its dialect is."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        dialect.migrate()

    def close(self) -> None:
        self.dialect.close()

    # --- keys ----------------------------------------------------------------------------
    def insert_key(self, key: ApiKeyRow) -> None:
        self.dialect.rowcount(
            "insert_key",
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            key_hash=key.key_hash,
            created_at=key.created_at,
        )

    def key_by_hash(self, key_hash: str) -> ApiKeyRow | None:
        row = self.dialect.one("key_by_hash", key_hash=key_hash)
        return ApiKeyRow.from_row(row) if row else None

    def list_keys(self) -> list[ApiKeyRow]:
        return [ApiKeyRow.from_row(row) for row in self.dialect.all("list_keys")]

    def revoke_key(self, key_id: str) -> bool:
        return self.dialect.rowcount("revoke_key", id=key_id) > 0

    def count_active_keys(self) -> int:
        return _count(self.dialect.one("count_active_keys"))

    # --- uploads -------------------------------------------------------------------------
    def insert_upload(self, upload: UploadRow) -> None:
        self.dialect.rowcount(
            "insert_upload",
            id=upload.id,
            owner=upload.owner,
            key=upload.key,
            sha256=upload.sha256,
            content_type=upload.content_type,
            format=upload.format,
            width=upload.width,
            height=upload.height,
            size=upload.size,
            created_at=upload.created_at,
        )

    def get_upload(self, upload_id: str, owner: str) -> UploadRow | None:
        row = self.dialect.one("get_upload", id=upload_id, owner=owner)
        return UploadRow.from_row(row) if row else None

    # --- enqueue and read ----------------------------------------------------------------
    def insert_generations(self, generations: Sequence[Generation]) -> None:
        """Insert one enqueue request's generations atomically, in queue (FIFO) order."""
        if not generations:
            return
        with self.dialect.tx() as tx:
            for gen in generations:  # one statement per row, in order: seq follows it
                tx.rowcount(
                    "insert_generation",
                    id=gen.id,
                    owner=gen.owner,
                    model=gen.model,
                    status=gen.status.value,
                    params=dumps(gen.params),
                    inputs=dumps(gen.inputs),
                    batch_id=gen.batch_id,
                    batch_index=gen.batch_index,
                    priority=gen.priority,
                    seed=gen.seed,
                    width=gen.width,
                    height=gen.height,
                    area=gen.area,
                    target_namespace=gen.target_namespace,
                    idempotency_key=gen.idempotency_key,
                    request_hash=gen.request_hash,
                    enqueued_at=gen.enqueued_at,
                )

    def get_generation(self, generation_id: str, owner: str | None = None) -> Generation | None:
        row = self.dialect.one("get_generation", id=generation_id, owner=owner)
        return Generation.from_row(row) if row else None

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
        where: dict[str, Any] = {
            "owner": owner,
            "statuses": [status.value for status in statuses] if statuses else None,
            "model": model or None,
        }
        total = _count(self.dialect.one("count_generations", **where))
        query = "list_generations_newest" if newest_first else "list_generations_oldest"
        rows = self.dialect.all(query, **where, limit=limit, offset=offset)
        return _gens(rows), total

    def count_active(self, owner: str) -> int:
        statuses = [status.value for status in ACTIVE]
        row = self.dialect.one("count_generations", owner=owner, statuses=statuses, model=None)
        return _count(row)

    def by_idempotency_key(self, owner: str, key: str) -> list[Generation]:
        return _gens(self.dialect.all("by_idempotency_key", owner=owner, key=key))

    def queue_position(self, gen: Generation) -> int:
        """How many queued generations run before this one (0 = next)."""
        row = self.dialect.one("queue_position", queued=QUEUED, priority=gen.priority, id=gen.id)
        return _count(row)

    def recent_run_seconds(self, model: str, limit: int = 20) -> float | None:
        """Mean wall time of the last succeeded runs of a model (for ETAs)."""
        row = self.dialect.one(
            "recent_run_seconds", model=model, succeeded=Status.SUCCEEDED.value, limit=limit
        )
        return float(row["seconds"]) if row and row["seconds"] is not None else None

    def status_counts(self) -> dict[tuple[str, str], int]:
        """(model, status) → number of generations, over all keys (for /metrics)."""
        rows = self.dialect.all("status_counts")
        return {(row["model"], row["status"]): int(row["n"]) for row in rows}

    # --- cancel --------------------------------------------------------------------------
    def request_cancel(self, generation_id: str, owner: str) -> Generation | None:
        """Queued → cancelled now; processing → flagged for the worker; terminal → as is."""
        with self.dialect.tx() as tx:
            # Locked (FOR UPDATE / BEGIN IMMEDIATE): a concurrent claim either finished
            # first (we see processing and flag it) or waits and skips the cancelled row.
            row = tx.one("get_generation_for_update", id=generation_id, owner=owner)
            if row is None:
                return None
            gen = Generation.from_row(row)
            if gen.status is Status.QUEUED:
                self._end_unheld(tx, gen, Status.CANCELLED)
            elif gen.status is Status.PROCESSING:
                tx.rowcount("flag_cancel", id=gen.id)
            after = tx.one("get_generation", id=gen.id, owner=None)
            assert after is not None
            return Generation.from_row(after)

    def is_cancel_requested(self, generation_id: str) -> bool:
        row = self.dialect.one("is_cancel_requested", id=generation_id)
        return bool(row and row["cancel_requested"])

    # --- worker side ---------------------------------------------------------------------
    def claim(
        self, worker_id: str, models: Sequence[str], lease_seconds: float, max_attempts: int
    ) -> Generation | None:
        """Take the next job (or one whose lease ran out) and lease it to this worker."""
        claimed = self.claim_batch(worker_id, models, lease_seconds, max_attempts, 1)
        return claimed[0] if claimed else None

    def claim_batch(
        self,
        worker_id: str,
        models: Sequence[str],
        lease_seconds: float,
        max_attempts: int,
        max_batch: int,
    ) -> list[Generation]:
        """Claim the next job plus up to max_batch-1 queued siblings of its enqueue request
        (same parameters but the seed), so they can run as one pipeline call."""
        lease: dict[str, Any] = {
            "worker_id": worker_id,
            "lease_seconds": float(lease_seconds),
            "queued": QUEUED,
            "held": HELD,
            "stage": CLAIMED_STAGE,
        }
        with self.dialect.tx() as tx:
            self._reap_expired(tx, max_attempts)
            row = tx.one("claim_next", **lease, models=list(models))
            if row is None:
                return []
            first = Generation.from_row(row)
            claimed = [first]
            if max_batch > 1:
                siblings = tx.all(
                    "claim_siblings",
                    **lease,
                    batch_id=first.batch_id,
                    id=first.id,
                    limit=max_batch - 1,
                )
                claimed += sorted(_gens(siblings), key=lambda gen: gen.batch_index)
            for gen in claimed:
                tx.emit(gen, events.Started(gen.attempts))
            return claimed

    def _reap_expired(self, tx: Tx, max_attempts: int) -> None:
        """Expired leases that must not run again: cancelled if a cancel was asked, failed
        if out of attempts. The others stay claimable (claim_next takes them)."""
        for row in tx.all("expired_to_reap", held=HELD, max_attempts=max_attempts):
            gen = Generation.from_row(row)
            if gen.cancel_requested:
                self._end_unheld(tx, gen, Status.CANCELLED)
            else:
                self._end_unheld(tx, gen, Status.FAILED, events.worker_died_message(gen.attempts))

    def _end_unheld(
        self, tx: Tx, gen: Generation, status: Status, error_message: str | None = None
    ) -> None:
        """End a generation no live worker holds (a queued cancel, a reaped lease)."""
        assert status in (Status.CANCELLED, Status.FAILED)
        tx.rowcount(
            "end_unheld",
            id=gen.id,
            status=status.value,
            error_message=error_message,
            cancel_requested=gen.cancel_requested or status is Status.CANCELLED,
        )
        tx.emit(gen, events.ended(status, None, error_message))

    def renew_lease(self, generation_id: str, worker_id: str, lease_seconds: float) -> bool:
        held = {"id": generation_id, "worker_id": worker_id, "held": HELD}
        return self.dialect.rowcount("renew_lease", **held, lease_seconds=float(lease_seconds)) > 0

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
        """Record a step for the given jobs this worker still holds, in one statement; emit
        their progress events when asked. {id: cancel_requested} for the jobs still held."""
        if not gens:
            return {}
        params: dict[str, Any] = {
            "ids": [gen.id for gen in gens],
            "worker_id": worker_id,
            "held": HELD,
            "step": step,
            "total": total,
            "stage": stage,
        }
        if not emit:  # one autocommit statement: one round trip
            rows = self.dialect.all("report_progress", **params)
            return {row["id"]: bool(row["cancel_requested"]) for row in rows}
        with self.dialect.tx() as tx:
            rows = tx.all("report_progress", **params)
            held = {row["id"]: bool(row["cancel_requested"]) for row in rows}
            for gen in gens:
                if gen.id in held:
                    tx.emit(gen, events.Progress(step, total, stage))
            return held

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
        """Move a held job to a terminal state and emit its event, if still ours."""
        assert status in TERMINAL
        with self.dialect.tx() as tx:
            finished = tx.rowcount(
                "finish",
                id=gen.id,
                worker_id=worker_id,
                held=HELD,
                status=status.value,
                result_key=result_key,
                error_message=error_message,
                timings=_json_or_none(timings),
                receipt=_json_or_none(receipt),
            )
            if finished == 0:
                return False
            tx.emit(gen, events.ended(status, result_key, error_message))
            return True

    def requeue(self, gen: Generation, worker_id: str) -> bool:
        """Give a job back without counting the attempt (the worker is shutting down)."""
        held = {"id": gen.id, "worker_id": worker_id, "held": HELD}
        return self.dialect.rowcount("requeue", **held, queued=QUEUED) > 0

    def release_worker_leases(self, worker_id: str) -> int:
        """The worker is known dead: let its jobs be claimed now instead of at lease end."""
        return self.dialect.rowcount("release_worker_leases", worker_id=worker_id, held=HELD)

    # --- workers -------------------------------------------------------------------------
    def upsert_worker(self, worker: WorkerRow) -> None:
        self.dialect.rowcount(
            "upsert_worker",
            id=worker.id,
            host=worker.host,
            pid=worker.pid,
            device=worker.device,
            state=WorkerState(worker.state).value,
            model=worker.model,
            weights=_json_or_none(worker.weights),
            error=worker.error,
            started_at=worker.started_at,
            heartbeat_at=worker.heartbeat_at,
        )

    def worker_heartbeat(self, worker_id: str, state: WorkerState | None = None) -> None:
        value = WorkerState(state).value if state is not None else None
        self.dialect.rowcount("worker_heartbeat", id=worker_id, state=value)

    def list_workers(self, fresh_within: float | None = None) -> list[WorkerRow]:
        fresh = float(fresh_within) if fresh_within is not None else None
        rows = self.dialect.all("list_workers", fresh_within=fresh)
        return [WorkerRow.from_row(row) for row in rows]

    # --- events --------------------------------------------------------------------------
    def events_after(self, owner: str, after_id: int, limit: int = 500) -> list[Event]:
        rows = self.dialect.all("events_after", owner=owner, after_id=after_id, limit=limit)
        return [Event.from_row(row) for row in rows]

    def last_event_id(self, owner: str) -> int:
        return _count(self.dialect.one("last_event_id", owner=owner))

    async def wait_for_events(self, owner: str, after_id: int, timeout: float) -> bool:
        """Wait up to timeout for a hint that owner has events after after_id (see Store)."""
        return await self.dialect.wait_for_events(owner, after_id, timeout)


__all__ = ["QueueStore"]
