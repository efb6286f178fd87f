"""Rows of the store that are not generations, the Store protocol, and how a store is opened.

Two implementations share one contract (tests/contract): ``SqliteStore`` for one machine
and ``PostgresStore`` for API nodes and workers on many machines.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from editserve.generations.record import Event, Generation, Status

if TYPE_CHECKING:
    from editserve.config import Settings


@dataclass(frozen=True)
class ApiKeyRow:
    id: str
    name: str
    prefix: str
    key_hash: str
    created_at: float
    revoked_at: float | None = None

    @classmethod
    def from_row(cls, row: Any) -> ApiKeyRow:
        return cls(**dict(row))


@dataclass(frozen=True)
class UploadRow:
    id: str
    owner: str
    key: str
    sha256: str
    content_type: str
    format: str
    width: int
    height: int
    size: int
    created_at: float

    @classmethod
    def from_row(cls, row: Any) -> UploadRow:
        return cls(**dict(row))


@dataclass(frozen=True)
class WorkerRow:
    id: str
    host: str
    pid: int
    device: str
    state: str
    started_at: float
    heartbeat_at: float
    model: str | None = None
    weights: dict[str, Any] | None = None
    error: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> WorkerRow:
        data = dict(row)
        data["weights"] = json.loads(data["weights"]) if data.get("weights") else None
        return cls(**data)


class Store(Protocol):
    """The job store: queue, records, events, keys, uploads and workers.

    Every method is synchronous and safe to call from several threads. Methods that change
    a generation's state are atomic and refuse (return False/None) when the caller no longer
    holds the job. See SqliteStore for the semantics of each; tests/contract holds both
    implementations to them.
    """

    def close(self) -> None: ...

    # keys
    def insert_key(self, key: ApiKeyRow) -> None: ...
    def key_by_hash(self, key_hash: str) -> ApiKeyRow | None: ...
    def list_keys(self) -> list[ApiKeyRow]: ...
    def revoke_key(self, key_id: str) -> bool: ...
    def count_active_keys(self) -> int: ...

    # uploads
    def insert_upload(self, upload: UploadRow) -> None: ...
    def get_upload(self, upload_id: str, owner: str) -> UploadRow | None: ...

    # enqueue and read
    def insert_generations(self, generations: Sequence[Generation]) -> None: ...
    def get_generation(self, generation_id: str, owner: str | None = None) -> Generation | None: ...
    def list_generations(
        self,
        owner: str,
        *,
        statuses: Sequence[Status] | None = None,
        model: str | None = None,
        limit: int = 50,
        offset: int = 0,
        newest_first: bool = True,
    ) -> tuple[list[Generation], int]: ...
    def count_active(self, owner: str) -> int: ...
    def by_idempotency_key(self, owner: str, key: str) -> list[Generation]: ...
    def queue_position(self, gen: Generation) -> int: ...
    def recent_run_seconds(self, model: str, limit: int = 20) -> float | None: ...
    def status_counts(self) -> dict[tuple[str, str], int]: ...

    # cancel
    def request_cancel(self, generation_id: str, owner: str) -> Generation | None: ...
    def is_cancel_requested(self, generation_id: str) -> bool: ...

    # worker side
    def claim(
        self, worker_id: str, models: Sequence[str], lease_seconds: float, max_attempts: int
    ) -> Generation | None: ...
    def claim_batch(
        self,
        worker_id: str,
        models: Sequence[str],
        lease_seconds: float,
        max_attempts: int,
        max_batch: int,
    ) -> list[Generation]: ...
    def renew_lease(self, generation_id: str, worker_id: str, lease_seconds: float) -> bool: ...
    def report_progress(
        self,
        gen: Generation,
        worker_id: str,
        step: int,
        total: int,
        stage: str,
        *,
        emit: bool,
    ) -> bool: ...
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
    ) -> bool: ...
    def requeue(self, gen: Generation, worker_id: str) -> bool: ...
    def release_worker_leases(self, worker_id: str) -> int: ...

    # workers
    def upsert_worker(self, worker: WorkerRow) -> None: ...
    def worker_heartbeat(self, worker_id: str, state: str | None = None) -> None: ...
    def list_workers(self, fresh_within: float | None = None) -> list[WorkerRow]: ...

    # events
    def events_after(self, owner: str, after_id: int, limit: int = 500) -> list[Event]: ...
    def last_event_id(self, owner: str) -> int: ...
    async def wait_for_events(self, owner: str, after_id: int, timeout: float) -> bool:
        """Wait up to timeout for a hint that owner has events after after_id.

        True: look now (a hint arrived, or one had arrived already). False: timed out, or
        this store has no hints (SQLite). Only a hint: events_after stays the truth, so a
        reader that polls after a False loses nothing.
        """
        ...


def is_store_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "the database is busy or unreachable; retry shortly"."""
    if isinstance(exc, sqlite3.OperationalError):
        return True
    if "psycopg" in sys.modules:  # only a PostgreSQL store imports it
        import psycopg

        # lost connections, timeouts, lock/deadlock aborts, and the pool's PoolTimeout
        return isinstance(exc, psycopg.OperationalError)
    return False


def open_store(settings: Settings) -> Store:
    """Open the store named by settings.database_url: sqlite:///… or postgresql://…."""
    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        from editserve.store.sqlite import SqliteStore

        # sqlite:////abs/path.db and sqlite:///relative/path.db
        return SqliteStore(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("postgresql://", "postgres://")):
        from editserve.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ValueError(
        f"database_url: unsupported scheme in {url!r} "
        "(use sqlite:///path.db or postgresql://user@host/db)"
    )
