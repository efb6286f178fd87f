"""The SQLite dialect of the job store: one file, shared by every process on one machine.

- **WAL**, ``synchronous=NORMAL``, a 30 s busy timeout: readers never block the writer.
- **Writes that must be atomic** run in ``BEGIN IMMEDIATE`` transactions, so every writer
  is serialised up front: a claim is one ``UPDATE … RETURNING`` and two workers never get
  the same job, and event ids become visible in id order.
- **One connection per thread** (sqlite3 connections must not be shared between threads).
- **Times** the store stamps come from this host's clock, passed to every statement as
  ``:now`` (sqlite 3.40 has no sub-second ``unixepoch``; one machine has one clock).
- **Lists** (models, ids, statuses) are passed as JSON arrays and read with ``json_each``.
- **Event hints within one process only**: a transaction of this store object that wrote
  events wakes its ``wait_for_events`` callers at commit; other processes' events are
  found by polling (the API process's event hub polls once for every subscriber).

The statements are sqlite/queries.sql; the state machine is store/core.py.

The file holds the signing and webhook secrets: it is created owner-only (0600, and SQLite
gives its -wal and -shm files the same mode), an existing one readable by others is
tightened to 0600, and a folder this store creates for it is 0700 (an existing folder is
the user's and is left as it is).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from editserve.domain.events import GenerationEvent
from editserve.domain.record import Generation
from editserve.store.core import QueueStore
from editserve.store.dialect import (
    Row,
    dumps,
    event_row,
    fresh_schema,
    load_queries,
    migrations,
)
from editserve.store.hints import EventHints

log = logging.getLogger("editserve.store")

DIALECT = "sqlite"
PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
# SQLite's files beside the database (WAL mode): the log and the shared-memory index.
COMPANIONS = ("-wal", "-shm")
# How often an idle worker looks at PRAGMA data_version (a read of shared memory).
WORK_TICK_SECONDS = 0.01


def _dict_row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> Row:
    return {column[0]: value for column, value in zip(cursor.description, values, strict=True)}


def _bind(params: dict[str, Any]) -> dict[str, Any]:
    """Lists become JSON arrays (json_each reads them); every statement may use :now."""
    bound = {
        key: dumps(value) if isinstance(value, list | tuple) else value
        for key, value in params.items()
    }
    bound.setdefault("now", time.time())
    return bound


def split_statements(script: str) -> list[str]:
    """A script's statements, each complete (trigger bodies with their ';' included)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    leftover = [line for line in buffer.splitlines() if line.strip()]
    if any(not line.strip().startswith("--") for line in leftover):
        raise ValueError(f"incomplete SQL statement at the end of a script: {buffer!r}")
    return statements


class _SqliteTx:
    """One BEGIN IMMEDIATE transaction on this thread's connection."""

    def __init__(self, dialect: SqliteDialect, conn: sqlite3.Connection) -> None:
        self._dialect = dialect
        self._conn = conn
        self.emitted: list[tuple[str, int]] = []  # (owner, event id), hinted after commit

    def one(self, name: str, /, **params: Any) -> Row | None:
        row: Row | None = self._dialect.run(self._conn, name, params).fetchone()
        return row

    def all(self, name: str, /, **params: Any) -> list[Row]:
        return self._dialect.run(self._conn, name, params).fetchall()

    def rowcount(self, name: str, /, **params: Any) -> int:
        return self._dialect.run(self._conn, name, params).rowcount

    def emit(self, gen: Generation, event: GenerationEvent) -> None:
        # Inserted at once: BEGIN IMMEDIATE already orders writers, so ids show in order.
        cursor = self._dialect.run(self._conn, "insert_event", event_row(gen, event))
        if cursor.lastrowid is not None:
            self.emitted.append((gen.owner, cursor.lastrowid))


def private_database_file(path: Path) -> None:
    """Create the database file owner-only (its folder 0700 if it has to be made), or
    tighten an existing one (and its -wal and -shm) that others may read."""
    if str(path) == ":memory:":
        return
    if not path.parent.exists():
        path.parent.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    if not path.exists():
        # O_CREAT without O_EXCL: processes starting together may all get here; the mode
        # applies to the one that creates it. SQLite takes an empty file as a new database.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in COMPANIONS)):
        try:
            mode = stat.S_IMODE(candidate.stat().st_mode)
            if mode & 0o077:
                os.chmod(candidate, PRIVATE_FILE)
                log.warning(
                    "%s was readable by others (mode %o); made it owner-only (600): it holds "
                    "the signing and webhook secrets",
                    candidate,
                    mode,
                )
        except FileNotFoundError:
            continue
        except PermissionError:
            log.warning("%s is readable by others and not ours to change; chmod 600 it", candidate)


def _enable_wal(conn: sqlite3.Connection, *, attempts: int = 100) -> None:
    """Switch the file to WAL. The switch needs the file to itself and SQLite answers
    "database is locked" at once (no busy wait) while other connections open the same new
    file, so several processes starting together retry for a few seconds."""
    for attempt in range(attempts):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02 + 0.01 * attempt)


class SqliteDialect:
    """Connections (one per thread) and transactions over one SQLite file."""

    emits_in_statement = False  # core writes events with tx().emit (BEGIN IMMEDIATE)

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._hints = EventHints()
        private_database_file(self.path)
        self._local = threading.local()
        self._queries = load_queries(DIALECT)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.row_factory = _dict_row
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def run(self, conn: sqlite3.Connection, name: str, params: dict[str, Any]) -> sqlite3.Cursor:
        return conn.execute(self._queries[name], _bind(params))

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    @contextmanager
    def tx(self) -> Iterator[_SqliteTx]:
        with self._immediate() as conn:
            tx = _SqliteTx(self, conn)
            yield tx
        if tx.emitted:  # committed: wake this process's waiters
            self._hints.written(tx.emitted)

    def one(self, name: str, /, **params: Any) -> Row | None:
        row: Row | None = self.run(self._conn(), name, params).fetchone()
        return row

    def all(self, name: str, /, **params: Any) -> list[Row]:
        return self.run(self._conn(), name, params).fetchall()

    def rowcount(self, name: str, /, **params: Any) -> int:
        return self.run(self._conn(), name, params).rowcount

    def migrate(self, *, from_schema: bool = True) -> list[int]:
        """Apply the migrations not applied yet, in one BEGIN IMMEDIATE transaction.

        An empty database gets sqlite/schema.sql instead (every version recorded), unless
        from_schema is False (tests and scripts/schema_snapshot.py build one migration by
        one) or the snapshot is stale (dialect.fresh_schema).
        """
        with self._immediate() as conn:
            self.run(conn, "create_schema_migrations", {})
            done = {row["version"] for row in self.run(conn, "applied_migrations", {})}
            pending = [m for m in migrations(DIALECT) if m.version not in done]
            if not pending:
                return []
            snapshot = fresh_schema(DIALECT) if from_schema and not done else None
            if snapshot is not None:
                scripts = [snapshot]
            else:
                scripts = [migration.script for migration in pending]
            for script in scripts:
                for statement in split_statements(script):
                    conn.execute(statement)
            for migration in pending:
                self.run(conn, "record_migration", {"version": migration.version})
        return [migration.version for migration in pending]

    def work_added(self) -> None:
        """Nothing to send: other processes see the commit in ``PRAGMA data_version``."""

    def wait_for_work(self, timeout: float, queued: Callable[[], bool]) -> bool:
        """Watch ``PRAGMA data_version`` (it moves when another connection commits: an
        enqueue, or any other write) every few milliseconds, and when it moves ask
        ``queued()`` (one read on the queue index; never the write lock a claim takes)."""
        conn = self._conn()
        deadline = time.monotonic() + timeout
        while True:
            version = conn.execute("PRAGMA data_version").fetchone()["data_version"]
            if version != getattr(self._local, "data_version", None):
                self._local.data_version = version
                if queued():
                    return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(WORK_TICK_SECONDS, remaining))

    async def wait_for_events(self, owner: str | None, after_id: int, timeout: float) -> bool:
        """Hints from this store object's own transactions only (see store/hints.py); events
        other processes write are not hinted: the caller polls after a False."""
        return await self._hints.wait(owner, after_id, timeout)

    @staticmethod
    def is_unavailable(exc: BaseException) -> bool:
        """Locked or busy past the timeout, or the file cannot be opened."""
        return isinstance(exc, sqlite3.OperationalError)

    def close(self) -> None:
        """Close this thread's connection (the next call opens a new one)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class SqliteStore(QueueStore):
    """The job store over one SQLite file (thread-safe: one connection per thread)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        super().__init__(SqliteDialect(self.path))


__all__ = ["SqliteDialect", "SqliteStore", "split_statements"]
