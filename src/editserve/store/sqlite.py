"""The job store on SQLite (WAL): queue, records, events, keys, uploads and workers.

Every process (API, workers, CLI) opens the same file. Writes that must be atomic run in
``BEGIN IMMEDIATE`` transactions, so a claim is one writer-serialised
``UPDATE … RETURNING`` and two workers never get the same job.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from editserve.generations import events
from editserve.generations.record import ACTIVE, TERMINAL, Event, Generation, Status
from editserve.store.base import ApiKeyRow, UploadRow, WorkerRow

_GEN_COLUMNS = "*"


def _now() -> float:
    return time.time()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


class SqliteStore:
    """Thread-safe (one connection per thread) store over one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._migrate()

    # --- connections ---------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _migrate(self) -> None:
        conn = self._conn()
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        folder = resources.files("editserve.store").joinpath("migrations/sqlite")
        scripts = sorted(
            (entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
            key=lambda entry: entry.name,
        )
        for script in scripts:
            version = int(script.name.split("_", 1)[0])
            with self._tx() as tx:
                done = tx.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = ?", (version,)
                ).fetchone()
                if done:
                    continue
                for statement in _split_sql(script.read_text()):
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (version, _now()),
                )

    # --- keys ----------------------------------------------------------------------------
    def insert_key(self, key: ApiKeyRow) -> None:
        with self._tx() as tx:
            tx.execute(
                "INSERT INTO api_keys (id, name, prefix, key_hash, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (key.id, key.name, key.prefix, key.key_hash, key.created_at),
            )

    def key_by_hash(self, key_hash: str) -> ApiKeyRow | None:
        row = (
            self._conn()
            .execute(
                "SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", (key_hash,)
            )
            .fetchone()
        )
        return ApiKeyRow.from_row(row) if row else None

    def list_keys(self) -> list[ApiKeyRow]:
        rows = self._conn().execute("SELECT * FROM api_keys ORDER BY created_at").fetchall()
        return [ApiKeyRow.from_row(row) for row in rows]

    def revoke_key(self, key_id: str) -> bool:
        with self._tx() as tx:
            cursor = tx.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (_now(), key_id),
            )
            return cursor.rowcount > 0

    def count_active_keys(self) -> int:
        row = (
            self._conn()
            .execute("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL")
            .fetchone()
        )
        return int(row[0])

    # --- uploads -------------------------------------------------------------------------
    def insert_upload(self, upload: UploadRow) -> None:
        with self._tx() as tx:
            tx.execute(
                "INSERT INTO uploads (id, owner, key, sha256, content_type, format, width, "
                "height, size, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    upload.id,
                    upload.owner,
                    upload.key,
                    upload.sha256,
                    upload.content_type,
                    upload.format,
                    upload.width,
                    upload.height,
                    upload.size,
                    upload.created_at,
                ),
            )

    def get_upload(self, upload_id: str, owner: str) -> UploadRow | None:
        row = (
            self._conn()
            .execute("SELECT * FROM uploads WHERE id = ? AND owner = ?", (upload_id, owner))
            .fetchone()
        )
        return UploadRow.from_row(row) if row else None

    # --- enqueue and read ----------------------------------------------------------------
    def insert_generations(self, generations: Sequence[Generation]) -> None:
        """Insert one enqueue request's generations (and their events) atomically."""
        with self._tx() as tx:
            for gen in generations:
                tx.execute(
                    "INSERT INTO generations (id, owner, model, status, params, inputs, "
                    "batch_id, batch_index, priority, seed, width, height, area, target_namespace, "
                    "idempotency_key, request_hash, enqueued_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        gen.id,
                        gen.owner,
                        gen.model,
                        gen.status.value,
                        _dumps(gen.params),
                        _dumps(gen.inputs),
                        gen.batch_id,
                        gen.batch_index,
                        gen.priority,
                        gen.seed,
                        gen.width,
                        gen.height,
                        gen.area,
                        gen.target_namespace,
                        gen.idempotency_key,
                        gen.request_hash,
                        gen.enqueued_at,
                    ),
                )

    def get_generation(self, generation_id: str, owner: str | None = None) -> Generation | None:
        sql = "SELECT * FROM generations WHERE id = ?"
        args: tuple[Any, ...] = (generation_id,)
        if owner is not None:
            sql += " AND owner = ?"
            args += (owner,)
        row = self._conn().execute(sql, args).fetchone()
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
        where = ["owner = ?"]
        args: list[Any] = [owner]
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args.extend(status.value for status in statuses)
        if model:
            where.append("model = ?")
            args.append(model)
        clause = " AND ".join(where)
        conn = self._conn()
        total = int(
            conn.execute(f"SELECT COUNT(*) FROM generations WHERE {clause}", args).fetchone()[0]
        )
        order = "DESC" if newest_first else "ASC"
        rows = conn.execute(
            f"SELECT * FROM generations WHERE {clause} ORDER BY seq {order} LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return [Generation.from_row(row) for row in rows], total

    def count_active(self, owner: str) -> int:
        row = (
            self._conn()
            .execute(
                "SELECT COUNT(*) FROM generations "
                "WHERE owner = ? AND status IN ('queued','processing')",
                (owner,),
            )
            .fetchone()
        )
        return int(row[0])

    def by_idempotency_key(self, owner: str, key: str) -> list[Generation]:
        rows = (
            self._conn()
            .execute(
                "SELECT * FROM generations WHERE owner = ? AND idempotency_key = ? ORDER BY seq",
                (owner, key),
            )
            .fetchall()
        )
        return [Generation.from_row(row) for row in rows]

    def queue_position(self, gen: Generation) -> int:
        """How many queued generations run before this one (0 = next)."""
        row = (
            self._conn()
            .execute(
                "SELECT COUNT(*) FROM generations WHERE status = 'queued' AND "
                "(priority > ? OR (priority = ? AND "
                "seq < (SELECT seq FROM generations WHERE id = ?)))",
                (gen.priority, gen.priority, gen.id),
            )
            .fetchone()
        )
        return int(row[0])

    def recent_run_seconds(self, model: str, limit: int = 20) -> float | None:
        """Mean wall time of the last succeeded runs of a model (for ETAs)."""
        row = (
            self._conn()
            .execute(
                "SELECT AVG(completed_at - started_at) FROM (SELECT completed_at, started_at "
                "FROM generations WHERE model = ? AND status = 'succeeded' "
                "AND started_at IS NOT NULL ORDER BY seq DESC LIMIT ?)",
                (model, limit),
            )
            .fetchone()
        )
        return float(row[0]) if row and row[0] is not None else None

    def status_counts(self) -> dict[tuple[str, str], int]:
        """(model, status) → number of generations, over all keys (for /metrics)."""
        rows = (
            self._conn()
            .execute("SELECT model, status, COUNT(*) FROM generations GROUP BY model, status")
            .fetchall()
        )
        return {(row[0], row[1]): int(row[2]) for row in rows}

    # --- cancel --------------------------------------------------------------------------
    def request_cancel(self, generation_id: str, owner: str) -> Generation | None:
        """Queued → cancelled now; processing → flagged for the worker; terminal → as is."""
        with self._tx() as tx:
            row = tx.execute(
                "SELECT * FROM generations WHERE id = ? AND owner = ?", (generation_id, owner)
            ).fetchone()
            if row is None:
                return None
            gen = Generation.from_row(row)
            if gen.status is Status.QUEUED:
                now = _now()
                tx.execute(
                    "UPDATE generations SET status = 'cancelled', completed_at = ?, "
                    "cancel_requested = 1 WHERE id = ?",
                    (now, gen.id),
                )
                self._emit(tx, gen, *events.cancelled())
            elif gen.status is Status.PROCESSING:
                tx.execute("UPDATE generations SET cancel_requested = 1 WHERE id = ?", (gen.id,))
            row = tx.execute("SELECT * FROM generations WHERE id = ?", (gen.id,)).fetchone()
            return Generation.from_row(row)

    def is_cancel_requested(self, generation_id: str) -> bool:
        row = (
            self._conn()
            .execute("SELECT cancel_requested FROM generations WHERE id = ?", (generation_id,))
            .fetchone()
        )
        return bool(row and row[0])

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
        now = _now()
        lease = now + lease_seconds
        claim_set = (
            "SET status = 'processing', worker_id = ?, lease_expires_at = ?, "
            "attempts = attempts + 1, started_at = COALESCE(started_at, ?), "
            "progress_step = NULL, progress_total = NULL, stage = 'starting' "
        )
        with self._tx() as tx:
            self._reap_expired(tx, now, max_attempts)
            marks = ",".join("?" * len(models))
            row = tx.execute(
                "UPDATE generations " + claim_set + "WHERE id = (SELECT id FROM generations "
                "WHERE model IN (" + marks + ") AND "
                "(status = 'queued' OR (status = 'processing' AND lease_expires_at < ?)) "
                "ORDER BY priority DESC, seq LIMIT 1) RETURNING *",
                (worker_id, lease, now, *models, now),
            ).fetchone()
            if row is None:
                return []
            first = Generation.from_row(row)
            claimed = [first]
            if max_batch > 1:
                rows = tx.execute(
                    "UPDATE generations " + claim_set + "WHERE id IN (SELECT id FROM generations "
                    "WHERE batch_id = ? AND status = 'queued' AND id != ? "
                    "ORDER BY seq LIMIT ?) RETURNING *",
                    (worker_id, lease, now, first.batch_id, first.id, max_batch - 1),
                ).fetchall()
                claimed += sorted(
                    (Generation.from_row(r) for r in rows), key=lambda g: g.batch_index
                )
            for gen in claimed:
                self._emit(tx, gen, *events.started(gen.attempts))
            return claimed

    def _reap_expired(self, tx: sqlite3.Connection, now: float, max_attempts: int) -> None:
        """Expired leases: cancelled if a cancel was asked, failed if out of attempts."""
        rows = tx.execute(
            "SELECT * FROM generations WHERE status = 'processing' AND lease_expires_at < ? "
            "AND (cancel_requested = 1 OR attempts >= ?)",
            (now, max_attempts),
        ).fetchall()
        for row in rows:
            gen = Generation.from_row(row)
            if gen.cancel_requested:
                tx.execute(
                    "UPDATE generations SET status = 'cancelled', completed_at = ?, "
                    "worker_id = NULL, lease_expires_at = NULL WHERE id = ?",
                    (now, gen.id),
                )
                self._emit(tx, gen, *events.cancelled())
            else:
                message = events.worker_died_message(gen.attempts)
                tx.execute(
                    "UPDATE generations SET status = 'failed', completed_at = ?, "
                    "error_message = ?, worker_id = NULL, lease_expires_at = NULL WHERE id = ?",
                    (now, message, gen.id),
                )
                self._emit(tx, gen, *events.failed(message))

    def renew_lease(self, generation_id: str, worker_id: str, lease_seconds: float) -> bool:
        with self._tx() as tx:
            cursor = tx.execute(
                "UPDATE generations SET lease_expires_at = ? WHERE id = ? AND worker_id = ? "
                "AND status = 'processing'",
                (_now() + lease_seconds, generation_id, worker_id),
            )
            return cursor.rowcount > 0

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
        with self._tx() as tx:
            cursor = tx.execute(
                "UPDATE generations SET progress_step = ?, progress_total = ?, stage = ? "
                "WHERE id = ? AND worker_id = ? AND status = 'processing'",
                (step, total, stage, gen.id, worker_id),
            )
            if cursor.rowcount == 0:
                return False
            if emit:
                self._emit(tx, gen, *events.progress(step, total, stage))
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
        now = _now()
        with self._tx() as tx:
            cursor = tx.execute(
                "UPDATE generations SET status = ?, completed_at = ?, result_key = ?, "
                "error_message = ?, timings = ?, receipt = ?, worker_id = NULL, "
                "lease_expires_at = NULL, stage = ? "
                "WHERE id = ? AND worker_id = ? AND status = 'processing'",
                (
                    status.value,
                    now,
                    result_key,
                    error_message,
                    _dumps(timings) if timings is not None else None,
                    _dumps(receipt) if receipt is not None else None,
                    status.value,
                    gen.id,
                    worker_id,
                ),
            )
            if cursor.rowcount == 0:
                return False
            self._emit(tx, gen, *events.ended(status, result_key, error_message))
            return True

    def requeue(self, gen: Generation, worker_id: str) -> bool:
        """Give a job back without counting the attempt (the worker is shutting down)."""
        with self._tx() as tx:
            cursor = tx.execute(
                "UPDATE generations SET status = 'queued', worker_id = NULL, "
                "lease_expires_at = NULL, attempts = MAX(attempts - 1, 0), progress_step = NULL, "
                "progress_total = NULL, stage = NULL "
                "WHERE id = ? AND worker_id = ? AND status = 'processing'",
                (gen.id, worker_id),
            )
            return cursor.rowcount > 0

    def release_worker_leases(self, worker_id: str) -> int:
        """The worker is known dead: let its jobs be claimed now instead of at lease end."""
        with self._tx() as tx:
            cursor = tx.execute(
                "UPDATE generations SET lease_expires_at = 0 "
                "WHERE worker_id = ? AND status = 'processing'",
                (worker_id,),
            )
            return cursor.rowcount

    # --- workers -------------------------------------------------------------------------
    def upsert_worker(self, worker: WorkerRow) -> None:
        with self._tx() as tx:
            tx.execute(
                "INSERT INTO workers (id, host, pid, device, state, model, weights, error, "
                "started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET state = excluded.state, model = excluded.model, "
                "weights = excluded.weights, error = excluded.error, "
                "heartbeat_at = excluded.heartbeat_at, pid = excluded.pid, "
                "device = excluded.device",
                (
                    worker.id,
                    worker.host,
                    worker.pid,
                    worker.device,
                    worker.state,
                    worker.model,
                    _dumps(worker.weights) if worker.weights is not None else None,
                    worker.error,
                    worker.started_at,
                    worker.heartbeat_at,
                ),
            )

    def worker_heartbeat(self, worker_id: str, state: str | None = None) -> None:
        with self._tx() as tx:
            if state is None:
                tx.execute("UPDATE workers SET heartbeat_at = ? WHERE id = ?", (_now(), worker_id))
            else:
                tx.execute(
                    "UPDATE workers SET heartbeat_at = ?, state = ? WHERE id = ?",
                    (_now(), state, worker_id),
                )

    def list_workers(self, fresh_within: float | None = None) -> list[WorkerRow]:
        sql = "SELECT * FROM workers"
        args: tuple[Any, ...] = ()
        if fresh_within is not None:
            sql += " WHERE heartbeat_at >= ?"
            args = (_now() - fresh_within,)
        rows = self._conn().execute(sql + " ORDER BY started_at", args).fetchall()
        return [WorkerRow.from_row(row) for row in rows]

    # --- events --------------------------------------------------------------------------
    def _emit(
        self, tx: sqlite3.Connection, gen: Generation, event_type: str, data: dict[str, Any]
    ) -> None:
        tx.execute(
            "INSERT INTO events (owner, generation_id, type, data, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (gen.owner, gen.id, event_type, _dumps(events.payload(gen, data)), _now()),
        )

    def events_after(self, owner: str, after_id: int, limit: int = 500) -> list[Event]:
        rows = (
            self._conn()
            .execute(
                "SELECT * FROM events WHERE owner = ? AND id > ? ORDER BY id LIMIT ?",
                (owner, after_id, limit),
            )
            .fetchall()
        )
        return [Event.from_row(row) for row in rows]

    def last_event_id(self, owner: str) -> int:
        row = (
            self._conn().execute("SELECT MAX(id) FROM events WHERE owner = ?", (owner,)).fetchone()
        )
        return int(row[0] or 0)

    async def wait_for_events(self, owner: str, after_id: int, timeout: float) -> bool:
        """No cross-process hints on SQLite: wait the whole timeout; the caller polls."""
        await asyncio.sleep(timeout)
        return False


def _split_sql(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


__all__ = ["SqliteStore", "ACTIVE"]
