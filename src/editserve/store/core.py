"""The job store, written once: the generation state machine over a SQL dialect.

    queued ──claim──▶ processing ──finish──▶ succeeded | failed | cancelled
      │  ▲               │  │
      │  └───requeue─────┘  └──lease expired──▶ claimed again, or reaped:
      │                                         cancelled (a cancel was asked) or
      │                                         failed (no attempts left)
      └──request_cancel──▶ cancelled

A worker *holds* a generation while it is processing under its worker_id; every write a
worker makes is refused once it no longer holds it. This module decides every transition
and every event; the dialect (``store/sqlite/``, ``store/postgres/``) runs the named
statements of its ``queries.sql`` and receives statuses as parameters, so no status
is spelled in SQL. Events are emitted in the transaction of the change they report.

The hot path (a claim, a finish, or a busy worker's finish with its next claim) is one
round trip where the dialect can write the events in the statement of the change
(PostgreSQL: ``claim_started``, ``finish_ended``, ``finish_claim``); SQLite runs each as a
short BEGIN IMMEDIATE transaction. The statements' parameters are ``store/statements.py``.
Expired leases are reaped at most every ``REAP_EVERY_SECONDS`` (and whenever a claim finds
nothing to do), not on every claim.
The reads (lists, counts, events) are ``store/listing.py``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from editserve.domain import events
from editserve.domain.record import Generation, Status
from editserve.store.batches import BatchRow, BatchRows
from editserve.store.cluster import ClusterRecord
from editserve.store.dialect import Dialect, Tx
from editserve.store.fairness import fair_tags
from editserve.store.keys import KeyRows
from editserve.store.lineage import LineageReads, insert_parents
from editserve.store.links import LinkReads
from editserve.store.listing import ListingReads, count_of, gen_of, gens_of
from editserve.store.observed import Observations
from editserve.store.outbox import WebhookOutbox
from editserve.store.protocol.records import QueueFull
from editserve.store.retention import Retention
from editserve.store.rows import NextClaim, UploadRow
from editserve.store.statements import (
    claim_terms,
    claimed_part,
    finish_change,
    finish_terms,
    generation_params,
    started_template,
)
from editserve.store.worker_rows import WorkerRows

REAP_EVERY_SECONDS = 2.0  # expired leases are looked for at most this often per store


class QueueStore(
    KeyRows,
    BatchRows,
    LineageReads,
    ListingReads,
    LinkReads,
    WebhookOutbox,
    Observations,
    ClusterRecord,
    Retention,
    WorkerRows,
):
    """The Store protocol over one dialect; thread-safe as far as its dialect is."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._next_reap = 0.0  # time.monotonic() of the next look for expired leases
        dialect.migrate()

    def close(self) -> None:
        self.dialect.close()

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
    def insert_generations(
        self,
        generations: Sequence[Generation],
        *,
        max_active: int | None = None,
        costs: dict[str, float] | None = None,
    ) -> None:
        """Insert one enqueue request's generations atomically, in queue (FIFO) order.

        Every owner's enqueues are serialised (PostgreSQL: an advisory lock per owner;
        SQLite: BEGIN IMMEDIATE). ``max_active``: the per-key queue limit (a key's own
        max_running wins): the owner's queued and processing generations are counted in the
        insert's transaction, so concurrent enqueues never go over it: QueueFull, nothing
        inserted. ``costs``: estimated GPU seconds by generation id, for the fair-share
        start tags (store/fairness.py).
        """
        if not generations:
            return
        with self.dialect.tx() as tx:
            _check_queue_limit(tx, generations, max_active)
            tags = fair_tags(tx, generations, costs)
            for gen in generations:  # one statement per row, in order: seq follows it
                tx.rowcount("insert_generation", **generation_params(gen, *tags[gen.id]))
                insert_parents(tx, gen)
        self.dialect.work_added()

    def insert_batch(
        self,
        batch: BatchRow,
        generations: Sequence[Generation],
        *,
        costs: dict[str, float] | None = None,
    ) -> None:
        """Insert a batch and its items in one transaction (all or nothing), in item order,
        after the owner's enqueue lock; batch items are not under the per-key queue limit.
        The items are numbered here (after the key's last number, read under the lock)
        rather than one by one by the numbering trigger: thousands of rows inserted into a
        table the planner still thinks small made each trigger's look-up a scan."""
        with self.dialect.tx() as tx:
            tx.one("lock_owner_enqueue", owner=batch.owner)
            last = count_of(tx.one("last_owner_seq", owner=batch.owner))
            tx.rowcount("insert_batch", **batch.insert_params())
            tags = fair_tags(tx, generations, costs)
            for number, gen in enumerate(generations, last + 1):
                params = generation_params(gen, *tags[gen.id], owner_seq=number)
                tx.rowcount("insert_generation", **params)
                insert_parents(tx, gen)
        self.dialect.work_added()

    def wait_for_work(self, timeout: float) -> bool:
        """An idle worker's wait: True as soon as a hint says a job may wait (an enqueue on
        any node; PostgreSQL NOTIFY, SQLite's data_version), False after timeout."""
        return self.dialect.wait_for_work(
            timeout, lambda: self.dialect.one("any_queued") is not None
        )

    # --- cancel --------------------------------------------------------------------------
    def request_cancel(self, generation_id: str, owner: str) -> Generation | None:
        """Queued → cancelled now; processing → flagged for the worker; terminal → as is."""
        with self.dialect.tx() as tx:
            # Locked (FOR UPDATE / BEGIN IMMEDIATE): a concurrent claim either finished
            # first (we see processing and flag it) or waits and skips the cancelled row.
            row = tx.one("get_generation_for_update", id=generation_id, owner=owner)
            if row is None:
                return None
            gen = gen_of(row)
            if gen.status is Status.QUEUED:
                self._end_unheld(tx, gen, Status.CANCELLED)
            elif gen.status is Status.PROCESSING:
                tx.rowcount("flag_cancel", id=gen.id)
            after = tx.one("get_generation", id=gen.id, owner=None)
            assert after is not None
            return gen_of(after)

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
        *,
        loaded: str | None = None,
        starved_before: float | None = None,
    ) -> list[Generation]:
        """Claim the next job plus up to max_batch-1 queued siblings of its enqueue request
        (same parameters but the seed), so they can run as one pipeline call. At equal
        priority the loaded model's jobs go first, unless another model's job was enqueued
        at or before starved_before (see the Store protocol)."""
        self._reap_if_due(max_attempts)
        lease = claim_terms(worker_id, models, lease_seconds, max_attempts, loaded, starved_before)
        if self.dialect.emits_in_statement:  # claim, siblings and events: one round trip
            rows = self.dialect.all(
                "claim_started", **lease, **started_template(), siblings=max_batch - 1
            )
            claimed = gens_of(rows)
        else:
            with self.dialect.tx() as tx:
                claimed = self._claim_in(tx, lease, max_batch)
        if not claimed:  # nothing to do: a good moment to look for expired leases
            self._reap_if_due(max_attempts, force=True)
        return claimed

    def _claim_in(self, tx: Tx, lease: dict[str, Any], max_batch: int) -> list[Generation]:
        row = tx.one("claim_next", **lease)
        if row is None:
            return []
        first = gen_of(row)
        claimed = [first]
        if max_batch > 1:
            siblings = tx.all(
                "claim_siblings",
                **lease,
                batch_id=first.batch_id,
                id=first.id,
                limit=max_batch - 1,
            )
            claimed += sorted(gens_of(siblings), key=lambda gen: gen.batch_index)
        for gen in claimed:
            tx.emit(gen, events.Started(gen.attempts))
        return claimed

    def finish_and_claim(
        self, gen: Generation, worker_id: str, status: Status, then: NextClaim, **fields: Any
    ) -> tuple[bool, list[Generation]]:
        """``finish`` and then ``claim_batch`` with ``then``'s terms, in one transaction
        (on PostgreSQL one statement): a busy worker's hand-in and next job in one round
        trip. Returns (finished: the job was still ours, the claimed jobs)."""
        self._reap_if_due(then.max_attempts)
        change, event = finish_change(gen, worker_id, status, **fields)
        lease = claim_terms(worker_id, then.models, then.lease_seconds, then.max_attempts,
                       then.loaded, then.starved_before)  # fmt: skip
        if self.dialect.emits_in_statement:
            both = {**lease, **finish_terms(change, gen, event)}  # finishing: this job
            rows = self.dialect.all(
                "finish_claim", **both, **started_template(), siblings=then.max_batch - 1
            )
            finished = int(rows[0]["finished"]) > 0
            claimed = gens_of([claimed_part(row) for row in rows if row["id"] is not None])
        else:
            with self.dialect.tx() as tx:
                finished = tx.rowcount("finish", **change) > 0
                if finished:
                    tx.emit(gen, event)
                claimed = self._claim_in(tx, lease, then.max_batch)
        if not claimed:
            self._reap_if_due(then.max_attempts, force=True)
        return finished, claimed

    def _reap_if_due(self, max_attempts: int, *, force: bool = False) -> None:
        """Expired leases that must not run again: cancelled if a cancel was asked, failed
        if out of attempts (the others stay claimable: the claim takes them). Looked for
        at most every REAP_EVERY_SECONDS, or now if forced."""
        now = time.monotonic()
        if not force and now < self._next_reap:
            return
        self._next_reap = now + REAP_EVERY_SECONDS
        with self.dialect.tx() as tx:
            self._reap_expired(tx, max_attempts)

    def _reap_expired(self, tx: Tx, max_attempts: int) -> None:
        for row in tx.all("expired_to_reap", max_attempts=max_attempts):
            gen = gen_of(row)
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
        held = {"id": generation_id, "worker_id": worker_id}
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
        layer_keys: list[str] | None = None,
        gpu_seconds: float | None = None,
        output_megapixels: float | None = None,
    ) -> bool:
        """Move a held job to a terminal state and emit its event, if still ours."""
        change, event = finish_change(
            gen, worker_id, status, result_key=result_key, error_message=error_message,
            timings=timings, receipt=receipt, layer_keys=layer_keys, gpu_seconds=gpu_seconds,
            output_megapixels=output_megapixels,
        )  # fmt: skip
        if self.dialect.emits_in_statement:  # the change and its event: one round trip
            terms = finish_terms(change, gen, event)
            return count_of(self.dialect.one("finish_ended", **terms)) > 0
        with self.dialect.tx() as tx:
            if tx.rowcount("finish", **change) == 0:
                return False
            tx.emit(gen, event)
            return True

    def requeue(self, gen: Generation, worker_id: str) -> bool:
        """Give a job back without counting the attempt (the worker is shutting down)."""
        return self.dialect.rowcount("requeue", id=gen.id, worker_id=worker_id) > 0

    def release_worker_leases(self, worker_id: str) -> int:
        """The worker is known dead: let its jobs be claimed now instead of at lease end."""
        return self.dialect.rowcount("release_worker_leases", worker_id=worker_id)


def _check_queue_limit(tx: Tx, generations: Sequence[Generation], max_active: int | None) -> None:
    """Take each owner's enqueue lock; QueueFull unless each owner's active generations
    plus these stay within its limit (the key's max_running, else max_active; every one of
    a request's generations counts). Run first in the insert's transaction."""
    wanted: dict[str, int] = {}
    for gen in generations:
        wanted[gen.owner] = wanted.get(gen.owner, 0) + 1
    for owner in sorted(wanted):  # one order for every caller: no lock waits on another
        tx.one("lock_owner_enqueue", owner=owner)
        if max_active is None:
            continue
        key = tx.one("get_key", id=owner)
        own_limit = key["max_running"] if key is not None else None
        limit = int(own_limit) if own_limit is not None else max_active
        active = count_of(tx.one("count_owner_active", owner=owner))
        if active + wanted[owner] > limit:
            raise QueueFull(owner, active, limit, own=own_limit is not None)


__all__ = ["QueueStore"]
