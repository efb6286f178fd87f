"""The job store on PostgreSQL, shared by API nodes and workers on many machines.

Same contract as :class:`~editserve.store.sqlite.SqliteStore` (tests/contract runs one suite
over both). What differs, and why:

- **Claims** are one ``UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING``:
  claimers on any host never wait on each other and never get the same row.
- **Times the store stamps** (leases, heartbeats, completion) come from the database clock,
  so a lease written on one host expires at the same moment for every other host.
- **Events become visible in id order**: inserting events is serialised by a transaction
  advisory lock taken as the transaction's last step (see queries/postgres.sql), so an SSE
  reader polling ``events_after`` never skips a late commit.
- **NOTIFY** ``editserve_events`` (a trigger on ``events``) is only a wake-up hint, exposed
  as :meth:`PostgresStore.wait_for_events`; readers keep polling.
- **Migrations** run at open, in one transaction under an advisory lock, so any number of
  processes may start at once.

Connections come from a ``psycopg_pool.ConnectionPool`` (autocommit; explicit transactions
where atomicity matters), checked before use so a restarted database is survived.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cache
from importlib import resources
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from editserve.generations import events
from editserve.generations.record import TERMINAL, Event, Generation, Status
from editserve.store.base import ApiKeyRow, UploadRow, WorkerRow

log = logging.getLogger("editserve.store")

NOTIFY_CHANNEL = "editserve_events"
# pg_advisory_xact_lock keys; advisory locks are per database, so these never meet
# another database's.
MIGRATION_LOCK = 0x6564_6974_0001  # "edit" 1
EVENTS_LOCK = 0x6564_6974_0002  # "edit" 2


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


@cache
def _queries() -> dict[str, str]:
    """The named statements of queries/postgres.sql (comment lines dropped)."""
    text = resources.files("editserve.store").joinpath("queries/postgres.sql").read_text()
    queries: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []
    for line in [*text.splitlines(), "-- name: <end>"]:
        stripped = line.strip()
        if stripped.startswith("-- name:"):
            if name is not None:
                queries[name] = "\n".join(lines).strip().rstrip(";").strip()
            name, lines = stripped.removeprefix("-- name:").strip(), []
        elif name is not None and not stripped.startswith("--"):
            lines.append(line)
    return queries


def _q(name: str) -> Any:
    # psycopg types the query as LiteralString; ours come from a file shipped in the package.
    return _queries()[name]


def _migration_scripts() -> list[tuple[int, str]]:
    folder = resources.files("editserve.store").joinpath("migrations/postgres")
    scripts = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    return [(int(entry.name.split("_", 1)[0]), entry.read_text()) for entry in scripts]


def migrate(conninfo: str, *, connect_timeout: int = 10) -> list[int]:
    """Apply the migrations not applied yet; return their versions.

    One transaction under an advisory lock: concurrent callers queue up, and each later one
    finds nothing left to do. A failing script leaves the database as it was.
    """
    applied: list[int] = []
    with (
        psycopg.connect(conninfo, autocommit=True, connect_timeout=connect_timeout) as conn,
        conn.transaction(),
    ):
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, script in _migration_scripts():
            if version in done:
                continue
            conn.execute(script)  # no parameters: the whole script in one go
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) "
                "VALUES (%s, date_part('epoch', now()))",
                (version,),
            )
            applied.append(version)
    if applied:
        log.info("store: applied PostgreSQL migrations %s", applied)
    return applied


class _Tx:
    """One transaction; events emitted in it are inserted last, in id order (see module doc)."""

    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn
        self._events: list[dict[str, Any]] = []

    def execute(self, name: str, params: dict[str, Any] | None = None) -> psycopg.Cursor[Any]:
        return self.conn.execute(_q(name), params)

    def emit(self, gen: Generation, event_type: str, data: dict[str, Any]) -> None:
        self._events.append(
            {
                "owner": gen.owner,
                "generation_id": gen.id,
                "type": event_type,
                "data": _dumps(events.payload(gen, data)),
            }
        )

    def flush_events(self) -> None:
        if not self._events:
            return
        self.execute("lock_events", {"key": EVENTS_LOCK})
        with self.conn.cursor() as cursor:
            cursor.executemany(_q("insert_event"), self._events)
        self._events.clear()


class PostgresStore:
    """Thread-safe store over one PostgreSQL database (a small connection pool)."""

    def __init__(
        self,
        conninfo: str,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        connect_timeout: int = 10,
    ) -> None:
        self.conninfo = conninfo
        migrate(conninfo, connect_timeout=connect_timeout)
        self._pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            conninfo,
            kwargs={"autocommit": True, "row_factory": dict_row},
            min_size=min_connections,
            max_size=max_connections,
            check=ConnectionPool.check_connection,
            timeout=30.0,
            name="editserve-store",
            open=True,
        )
        self._hints: _EventHints | None = None
        self._hints_lock = threading.Lock()

    # --- connections ---------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[_Tx]:
        with self._pool.connection() as conn, conn.transaction():
            tx = _Tx(conn)
            yield tx
            tx.flush_events()

    def _one(self, name: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        with self._pool.connection() as conn:
            row: dict[str, Any] | None = conn.execute(_q(name), params).fetchone()
            return row

    def _all(self, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._pool.connection() as conn:
            return conn.execute(_q(name), params).fetchall()

    def _count(self, name: str, params: dict[str, Any] | None = None) -> int:
        row = self._one(name, params)
        return int(row["n"]) if row else 0

    def _rowcount(self, name: str, params: dict[str, Any]) -> int:
        with self._pool.connection() as conn:
            return conn.execute(_q(name), params).rowcount

    def close(self) -> None:
        with self._hints_lock:
            hints, self._hints = self._hints, None
        if hints is not None:
            hints.stop()
        self._pool.close()

    # --- keys ----------------------------------------------------------------------------
    def insert_key(self, key: ApiKeyRow) -> None:
        with self._tx() as tx:
            tx.execute(
                "insert_key",
                {
                    "id": key.id,
                    "name": key.name,
                    "prefix": key.prefix,
                    "key_hash": key.key_hash,
                    "created_at": key.created_at,
                },
            )

    def key_by_hash(self, key_hash: str) -> ApiKeyRow | None:
        row = self._one("key_by_hash", {"key_hash": key_hash})
        return ApiKeyRow.from_row(row) if row else None

    def list_keys(self) -> list[ApiKeyRow]:
        return [ApiKeyRow.from_row(row) for row in self._all("list_keys")]

    def revoke_key(self, key_id: str) -> bool:
        return self._rowcount("revoke_key", {"id": key_id}) > 0

    def count_active_keys(self) -> int:
        return self._count("count_active_keys")

    # --- uploads -------------------------------------------------------------------------
    def insert_upload(self, upload: UploadRow) -> None:
        with self._tx() as tx:
            tx.execute(
                "insert_upload",
                {
                    "id": upload.id,
                    "owner": upload.owner,
                    "key": upload.key,
                    "sha256": upload.sha256,
                    "content_type": upload.content_type,
                    "format": upload.format,
                    "width": upload.width,
                    "height": upload.height,
                    "size": upload.size,
                    "created_at": upload.created_at,
                },
            )

    def get_upload(self, upload_id: str, owner: str) -> UploadRow | None:
        row = self._one("get_upload", {"id": upload_id, "owner": owner})
        return UploadRow.from_row(row) if row else None

    # --- enqueue and read ----------------------------------------------------------------
    def insert_generations(self, generations: Sequence[Generation]) -> None:
        """Insert one enqueue request's generations atomically."""
        rows = [
            {
                "id": gen.id,
                "owner": gen.owner,
                "model": gen.model,
                "status": gen.status.value,
                "params": _dumps(gen.params),
                "inputs": _dumps(gen.inputs),
                "batch_id": gen.batch_id,
                "batch_index": gen.batch_index,
                "priority": gen.priority,
                "seed": gen.seed,
                "width": gen.width,
                "height": gen.height,
                "area": gen.area,
                "target_namespace": gen.target_namespace,
                "idempotency_key": gen.idempotency_key,
                "request_hash": gen.request_hash,
                "enqueued_at": gen.enqueued_at,
            }
            for gen in generations
        ]
        if not rows:
            return
        with self._tx() as tx, tx.conn.cursor() as cursor:
            # One statement per row, in order: seq (FIFO) follows the request's order.
            cursor.executemany(_q("insert_generation"), rows)

    def get_generation(self, generation_id: str, owner: str | None = None) -> Generation | None:
        row = self._one("get_generation", {"id": generation_id, "owner": owner})
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
        where = {
            "owner": owner,
            "statuses": [status.value for status in statuses] if statuses else None,
            "model": model or None,
        }
        with self._pool.connection() as conn:
            row = conn.execute(_q("count_generations"), where).fetchone()
            total = int(row["n"]) if row else 0
            query = "list_generations_newest" if newest_first else "list_generations_oldest"
            rows = conn.execute(_q(query), {**where, "limit": limit, "offset": offset}).fetchall()
        return [Generation.from_row(row) for row in rows], total

    def count_active(self, owner: str) -> int:
        return self._count("count_active", {"owner": owner})

    def by_idempotency_key(self, owner: str, key: str) -> list[Generation]:
        rows = self._all("by_idempotency_key", {"owner": owner, "key": key})
        return [Generation.from_row(row) for row in rows]

    def queue_position(self, gen: Generation) -> int:
        """How many queued generations run before this one (0 = next)."""
        return self._count("queue_position", {"priority": gen.priority, "id": gen.id})

    def recent_run_seconds(self, model: str, limit: int = 20) -> float | None:
        """Mean wall time of the last succeeded runs of a model (for ETAs)."""
        row = self._one("recent_run_seconds", {"model": model, "limit": limit})
        return float(row["seconds"]) if row and row["seconds"] is not None else None

    def status_counts(self) -> dict[tuple[str, str], int]:
        """(model, status) → number of generations, over all keys (for /metrics)."""
        return {(row["model"], row["status"]): int(row["n"]) for row in self._all("status_counts")}

    # --- cancel --------------------------------------------------------------------------
    def request_cancel(self, generation_id: str, owner: str) -> Generation | None:
        """Queued → cancelled now; processing → flagged for the worker; terminal → as is."""
        with self._tx() as tx:
            # FOR UPDATE: a concurrent claim either finished first (we see processing and
            # flag it) or waits for us (and then skips the cancelled row).
            row = tx.execute(
                "get_generation_for_update", {"id": generation_id, "owner": owner}
            ).fetchone()
            if row is None:
                return None
            gen = Generation.from_row(row)
            if gen.status is Status.QUEUED:
                tx.execute("cancel_queued", {"id": gen.id})
                tx.emit(gen, *events.cancelled())
            elif gen.status is Status.PROCESSING:
                tx.execute("flag_cancel", {"id": gen.id})
            row = tx.execute("get_generation", {"id": gen.id, "owner": None}).fetchone()
            return Generation.from_row(row)

    def is_cancel_requested(self, generation_id: str) -> bool:
        row = self._one("is_cancel_requested", {"id": generation_id})
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
        lease = {"worker_id": worker_id, "lease_seconds": float(lease_seconds)}
        with self._tx() as tx:
            self._reap_expired(tx, max_attempts)
            row = tx.execute("claim_next", {**lease, "models": list(models)}).fetchone()
            if row is None:
                return []
            first = Generation.from_row(row)
            claimed = [first]
            if max_batch > 1:
                rows = tx.execute(
                    "claim_siblings",
                    {**lease, "batch_id": first.batch_id, "id": first.id, "limit": max_batch - 1},
                ).fetchall()
                claimed += sorted(
                    (Generation.from_row(r) for r in rows), key=lambda g: g.batch_index
                )
            for gen in claimed:
                tx.emit(gen, *events.started(gen.attempts))
            return claimed

    def _reap_expired(self, tx: _Tx, max_attempts: int) -> None:
        """Expired leases: cancelled if a cancel was asked, failed if out of attempts."""
        rows = tx.execute("expired_to_reap", {"max_attempts": max_attempts}).fetchall()
        for row in rows:
            gen = Generation.from_row(row)
            if gen.cancel_requested:
                tx.execute("reap_cancelled", {"id": gen.id})
                tx.emit(gen, *events.cancelled())
            else:
                message = events.worker_died_message(gen.attempts)
                tx.execute("reap_failed", {"id": gen.id, "message": message})
                tx.emit(gen, *events.failed(message))

    def renew_lease(self, generation_id: str, worker_id: str, lease_seconds: float) -> bool:
        params = {
            "id": generation_id,
            "worker_id": worker_id,
            "lease_seconds": float(lease_seconds),
        }
        return self._rowcount("renew_lease", params) > 0

    def report_progress(
        self,
        gen: Generation,
        worker_id: str,
        step: int,
        total: int,
        stage: str,
        *,
        emit: bool,
    ) -> bool:
        """Record progress; emit a progress event when asked. False if the lease is lost."""
        params = {"id": gen.id, "worker_id": worker_id, "step": step, "total": total}
        with self._tx() as tx:
            if tx.execute("report_progress", {**params, "stage": stage}).rowcount == 0:
                return False
            if emit:
                tx.emit(gen, *events.progress(step, total, stage))
            return True

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
        """Move a processing job to a terminal state and emit its event, if still ours."""
        assert status in TERMINAL
        params = {
            "id": gen.id,
            "worker_id": worker_id,
            "status": status.value,
            "result_key": result_key,
            "error_message": error_message,
            "timings": _dumps(timings) if timings is not None else None,
            "receipt": _dumps(receipt) if receipt is not None else None,
        }
        with self._tx() as tx:
            if tx.execute("finish", params).rowcount == 0:
                return False
            tx.emit(gen, *events.ended(status, result_key, error_message))
            return True

    def requeue(self, gen: Generation, worker_id: str) -> bool:
        """Give a job back without counting the attempt (the worker is shutting down)."""
        return self._rowcount("requeue", {"id": gen.id, "worker_id": worker_id}) > 0

    def release_worker_leases(self, worker_id: str) -> int:
        """The worker is known dead: let its jobs be claimed now instead of at lease end."""
        return self._rowcount("release_worker_leases", {"worker_id": worker_id})

    # --- workers -------------------------------------------------------------------------
    def upsert_worker(self, worker: WorkerRow) -> None:
        params = {
            "id": worker.id,
            "host": worker.host,
            "pid": worker.pid,
            "device": worker.device,
            "state": worker.state,
            "model": worker.model,
            "weights": _dumps(worker.weights) if worker.weights is not None else None,
            "error": worker.error,
            "started_at": worker.started_at,
            "heartbeat_at": worker.heartbeat_at,
        }
        self._rowcount("upsert_worker", params)

    def worker_heartbeat(self, worker_id: str, state: str | None = None) -> None:
        self._rowcount("worker_heartbeat", {"id": worker_id, "state": state})

    def list_workers(self, fresh_within: float | None = None) -> list[WorkerRow]:
        fresh = float(fresh_within) if fresh_within is not None else None
        return [
            WorkerRow.from_row(row) for row in self._all("list_workers", {"fresh_within": fresh})
        ]

    # --- events --------------------------------------------------------------------------
    def events_after(self, owner: str, after_id: int, limit: int = 500) -> list[Event]:
        rows = self._all("events_after", {"owner": owner, "after_id": after_id, "limit": limit})
        return [Event.from_row(row) for row in rows]

    def last_event_id(self, owner: str) -> int:
        return self._count("last_event_id", {"owner": owner})

    async def wait_for_events(self, owner: str, after_id: int, timeout: float) -> bool:
        """Wait up to timeout for a NOTIFY saying owner has an event after after_id.

        True: look now. False: timed out (or the listener is down). Only a hint; see
        Store.wait_for_events.
        """
        with self._hints_lock:
            started = self._hints is None
            if self._hints is None:
                self._hints = _EventHints(self.conninfo)
            hints = self._hints
        if started:  # so that the first waiter already hears what happens from now on
            await asyncio.to_thread(hints.listening.wait, min(timeout, 5.0))
        return await hints.wait(owner, after_id, timeout)


class _EventHints:
    """LISTEN editserve_events on one connection in a daemon thread; wake async waiters.

    Remembers the highest event id notified per owner, so a waiter that asks after an event
    was already notified returns at once instead of waiting for the next one.
    """

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._lock = threading.Lock()
        self._latest: dict[str, int] = {}
        self._waiters: set[tuple[str, int, asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._stopping = threading.Event()
        self.listening = threading.Event()  # set while LISTEN is in effect
        self._thread = threading.Thread(target=self._run, name="editserve-listen", daemon=True)
        self._thread.start()

    async def wait(self, owner: str, after_id: int, timeout: float) -> bool:
        woken = asyncio.Event()
        entry = (owner, after_id, asyncio.get_running_loop(), woken)
        with self._lock:
            if self._latest.get(owner, 0) > after_id:
                return True
            self._waiters.add(entry)
        try:
            await asyncio.wait_for(woken.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(entry)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening.set()
                    backoff = 0.5
                    while not self._stopping.is_set():
                        for notify in conn.notifies(timeout=0.5):
                            self._notified(notify.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning(
                    "store: LISTEN %s failed (%s); SSE falls back to polling", NOTIFY_CHANNEL, exc
                )
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _notified(self, payload: str) -> None:
        event_id_text, _, owner = payload.partition(":")
        with suppress(ValueError):
            event_id = int(event_id_text)
            with self._lock:
                self._latest[owner] = max(self._latest.get(owner, 0), event_id)
                woken = [
                    (loop, ev)
                    for (who, after, loop, ev) in self._waiters
                    if who == owner and event_id > after
                ]
            for loop, ev in woken:
                with suppress(RuntimeError):  # that loop has closed
                    loop.call_soon_threadsafe(ev.set)


__all__ = ["PostgresStore", "migrate"]
