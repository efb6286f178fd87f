"""The PostgreSQL dialect of the job store, shared by API nodes and workers on many machines.

Same store (store/core.py) and contract (tests/contract) as SQLite. What this dialect adds,
and why:

- **Claims in one statement**: ``WITH next AS MATERIALIZED (SELECT … FOR UPDATE SKIP
  LOCKED LIMIT 1) UPDATE … RETURNING`` (postgres/queries.sql, claim_next): claimers on any
  host never wait on each other and never get the same row; batch siblings likewise.
- **Times from the database clock**: every time the store stamps (leases, heartbeats,
  completion) is ``date_part('epoch', now())``, so a lease written on one host expires at
  the same moment for every other host.
- **Event readers never skip an id that commits late**: every transaction that writes
  events holds the advisory lock ``EVENTS_LOCK`` in *shared* mode from just before its
  first event until its commit (writers run side by side, and their commits share WAL
  flushes); a reader of the events table (``events_after``, ``events_after_any``,
  ``last_event_id``) first takes it in *exclusive* mode, in its own transaction, so it
  waits out the writers in flight and then sees every id below the highest it reads. A
  reader holds it for one indexed read; the API process has one (the event hub).
- **The hot path in one round trip**: a claim (with its batch siblings) and a finish are
  each one statement that also inserts its events (``claim_started``, ``finish_ended``).
- **LISTEN/NOTIFY hints**: after a write that inserted events commits, the store sends
  each key's newest ``<event id>:<owner>`` on ``editserve_events`` (store/postgres/notify.py:
  a thread off the writer's path, at most one NOTIFY per 10 ms per process);
  :class:`_EventHints` listens on one connection in a daemon thread and wakes
  ``wait_for_events``. Only a hint: readers poll.
- **Migrations under an advisory lock** (``MIGRATION_LOCK``), all pending ones in one
  transaction, so any number of processes may start at once and a failing script leaves
  the database as it was. An empty database gets postgres/schema.sql instead.
- **Prepared statements, planned once where they can be**: psycopg prepares a statement
  run more than a few times; the queue's statuses are literals in the statements (they are
  inlined when the file is read: store/dialect.py ``FIXED_STATUSES``), so a plan kept for
  all executions still uses the partial queue indexes (``WHERE status = 'queued'``), and
  PostgreSQL's own choice between a kept plan and one per execution applies
  (``plan_cache_mode = auto``). A worker's store (``plans_kept``) keeps one plan per
  statement outright: the claim's plans made for its values look cheaper (a NULL
  ``loaded`` prunes half of it), so ``auto`` planned it anew on every execution, ~25% of
  the database's time per claim + finish; every statement a worker runs finds its rows by
  id, worker or a fixed status, where the kept plan is the same plan.
- **A checked connection pool**: ``psycopg_pool.ConnectionPool`` (autocommit; explicit
  transactions where atomicity matters), each connection checked before use unless it
  answered a statement in the last second (``TRUST_SECONDS``), so a restarted database is
  survived without a check's round trip before every statement.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from editserve.domain.events import GenerationEvent
from editserve.domain.record import Generation
from editserve.store.core import QueueStore
from editserve.store.dialect import Row, event_row, fresh_schema, load_queries, migrations
from editserve.store.hints import EventHints
from editserve.store.postgres.listen import Listener, WorkHints
from editserve.store.postgres.notify import Notifier, parse_event_payload

log = logging.getLogger("editserve.store")

DIALECT = "postgres"
NOTIFY_CHANNEL = "editserve_events"
WORK_CHANNEL = "editserve_work"  # an enqueue committed: idle workers look now
# pg_advisory_xact_lock keys; advisory locks are per database, so these never meet
# another database's.
MIGRATION_LOCK = 0x6564_6974_0001  # "edit" 1
EVENTS_LOCK = 0x6564_6974_0002  # "edit" 2
_LOCK = "SELECT pg_advisory_xact_lock(%s)"
_SHARED = "SELECT pg_advisory_xact_lock_shared(%s)"
# Reads of the events table: each runs after EVENTS_LOCK in exclusive mode (module doc).
EVENT_READS = frozenset({"events_after", "events_after_any", "last_event_id", "last_event_id_any"})
# Statements that insert events themselves: their rows name the events (event_owner/_id).
EVENT_WRITES = frozenset({"claim_started", "finish_ended", "finish_claim"})
# Where those rows name their events: (id column, owner column); finish_claim has both.
_EVENT_COLUMNS = (("event_id", "event_owner"), ("finish_event_id", "finish_owner"))

PgConnection = psycopg.Connection[dict[str, Any]]


def _q(name: str) -> Any:
    # psycopg types a query as LiteralString; ours come from a file shipped in the package.
    return load_queries(DIALECT)[name]


def migrate(conninfo: str, *, connect_timeout: int = 10, from_schema: bool = True) -> list[int]:
    """Apply the migrations not applied yet; return their versions.

    One transaction under an advisory lock: concurrent callers queue up, and each later one
    finds nothing left to do. An empty database gets postgres/schema.sql (every version
    recorded) unless from_schema is False (tests and scripts/schema_snapshot.py build one
    migration by one) or the snapshot is stale (dialect.fresh_schema).
    """
    with (
        psycopg.connect(
            conninfo, autocommit=True, connect_timeout=connect_timeout, row_factory=dict_row
        ) as conn,
        conn.transaction(),
    ):
        conn.execute(_LOCK, (MIGRATION_LOCK,))
        conn.execute(_q("create_schema_migrations"))
        done = {row["version"] for row in conn.execute(_q("applied_migrations"))}
        pending = [m for m in migrations(DIALECT) if m.version not in done]
        snapshot = fresh_schema(DIALECT) if from_schema and not done and pending else None
        if snapshot is not None:
            conn.execute(snapshot.encode())  # no parameters: one script
        else:
            for migration in pending:
                conn.execute(migration.script.encode())
        for migration in pending:
            conn.execute(_q("record_migration"), {"version": migration.version})
    applied = [migration.version for migration in pending]
    if applied:
        log.info("store: applied PostgreSQL migrations %s", applied)
    return applied


# A connection that answered a statement this recently is handed out without the pool's
# check (an empty query: one more round trip per statement, which halved the queue's
# throughput); an older one is checked, so a restarted database is still noticed before use.
TRUST_SECONDS = 1.0
_answered: weakref.WeakKeyDictionary[PgConnection, float] = weakref.WeakKeyDictionary()


def _check_unless_recent(conn: PgConnection) -> None:
    """The pool's check, for connections that have not answered in the last moment."""
    answered = _answered.get(conn)
    if answered is not None and time.monotonic() - answered < TRUST_SECONDS:
        return
    ConnectionPool.check_connection(conn)


def _keep_plans(conn: PgConnection) -> None:
    """A worker's connection: one plan per prepared statement (see the module doc)."""
    conn.execute("SET plan_cache_mode = force_generic_plan")


@contextmanager
def _connection(pool: ConnectionPool[PgConnection]) -> Iterator[PgConnection]:
    """A pool connection, marked as answering when the block ends without an error."""
    with pool.connection() as conn:
        yield conn
        _answered[conn] = time.monotonic()


class _PgTx:
    """One transaction; its events are inserted last, under EVENTS_LOCK (shared)."""

    def __init__(self, conn: PgConnection) -> None:
        self._conn = conn
        self._events: list[Row] = []
        self.written: list[Row] = []  # the inserted events (event_owner, event_id)

    def one(self, name: str, /, **params: Any) -> Row | None:
        return self._conn.execute(_q(name), params).fetchone()

    def all(self, name: str, /, **params: Any) -> list[Row]:
        return self._conn.execute(_q(name), params).fetchall()

    def rowcount(self, name: str, /, **params: Any) -> int:
        return self._conn.execute(_q(name), params).rowcount

    def emit(self, gen: Generation, event: GenerationEvent) -> None:
        self._events.append(event_row(gen, event))

    def flush_events(self) -> None:
        """The transaction's last step: ids are taken under the lock, released at commit."""
        if not self._events:
            return
        self._conn.execute(_SHARED, (EVENTS_LOCK,))
        for event in self._events:
            row = self._conn.execute(_q("insert_event"), event).fetchone()
            assert row is not None
            self.written.append(row)
        self._events.clear()


class PostgresDialect:
    """A checked connection pool over one database, and LISTEN hints started on demand."""

    emits_in_statement = True  # claim_started and finish_ended insert their own events

    def __init__(
        self,
        conninfo: str,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        connect_timeout: int = 10,
        plans_kept: bool = False,
    ) -> None:
        self.conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._pool: ConnectionPool[PgConnection] = ConnectionPool(
            conninfo,
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "connect_timeout": connect_timeout,
            },
            min_size=min_connections,
            max_size=max_connections,
            check=_check_unless_recent,
            configure=_keep_plans if plans_kept else None,
            timeout=30.0,
            name="editserve-store",
            open=False,
        )
        self._hints: _EventHints | None = None
        self._hints_lock = threading.Lock()
        self._notifier: Notifier | None = None
        self._work: WorkHints | None = None

    def migrate(self) -> list[int]:
        """Apply pending migrations (own connection), then open the pool."""
        applied = migrate(self.conninfo, connect_timeout=self._connect_timeout)
        self._pool.open()
        return applied

    @contextmanager
    def tx(self) -> Iterator[_PgTx]:
        with _connection(self._pool) as conn, conn.transaction():
            tx = _PgTx(conn)
            yield tx
            tx.flush_events()
        self._notify(tx.written)

    def one(self, name: str, /, **params: Any) -> Row | None:
        rows = self.all(name, **params)
        return rows[0] if rows else None

    def all(self, name: str, /, **params: Any) -> list[Row]:
        with _connection(self._pool) as conn:
            if name in EVENT_READS:  # after the writers in flight: no late id is skipped
                with conn.transaction():
                    conn.execute(_LOCK, (EVENTS_LOCK,))
                    return conn.execute(_q(name), params).fetchall()
            rows = conn.execute(_q(name), {**params, "events_lock": EVENTS_LOCK}).fetchall()
        if name in EVENT_WRITES:
            self._notify(rows)
        return rows

    def _notify(self, rows: list[Row]) -> None:
        written = [
            (row[owner], row[event_id])
            for row in rows
            for event_id, owner in _EVENT_COLUMNS
            if row.get(event_id) is not None
        ]
        if written:
            self._sender().events(written)

    def _sender(self) -> Notifier:
        if self._notifier is None:
            with self._hints_lock:
                if self._notifier is None:
                    self._notifier = Notifier(
                        lambda: _connection(self._pool), load_queries(DIALECT)
                    )
        return self._notifier

    def work_added(self) -> None:
        """Jobs were enqueued (committed): NOTIFY idle workers on every host."""
        self._sender().work()

    def wait_for_work(self, timeout: float, queued: Callable[[], bool]) -> bool:
        """Wait up to timeout for a NOTIFY of new work (see Dialect.wait_for_work)."""
        if self._work is None:
            with self._hints_lock:
                if self._work is None:
                    self._work = WorkHints(self.conninfo, WORK_CHANNEL)
        return self._work.wait(timeout)

    def rowcount(self, name: str, /, **params: Any) -> int:
        with _connection(self._pool) as conn:
            return conn.execute(_q(name), params).rowcount

    async def wait_for_events(self, owner: str | None, after_id: int, timeout: float) -> bool:
        """Wait up to timeout for a NOTIFY saying owner (any key if None) has an event
        after after_id.

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

    @staticmethod
    def is_unavailable(exc: BaseException) -> bool:
        """Lost connections, timeouts, lock/deadlock aborts, and the pool's PoolTimeout."""
        return isinstance(exc, psycopg.OperationalError)

    def close(self) -> None:
        with self._hints_lock:
            hints, self._hints = self._hints, None
            notifier, self._notifier = self._notifier, None
            work, self._work = self._work, None
        if hints is not None:
            hints.stop()
        if work is not None:
            work.stop()
        if notifier is not None:
            notifier.stop()
        self._pool.close()


class PostgresStore(QueueStore):
    """The job store over one PostgreSQL database (thread-safe: a small connection pool).

    ``plans_kept`` (a worker's store): every statement keeps one plan for all its
    executions (see the module doc)."""

    def __init__(
        self,
        conninfo: str,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        connect_timeout: int = 10,
        plans_kept: bool = False,
    ) -> None:
        self.conninfo = conninfo
        dialect = PostgresDialect(
            conninfo,
            min_connections=min_connections,
            max_connections=max_connections,
            connect_timeout=connect_timeout,
            plans_kept=plans_kept,
        )
        super().__init__(dialect)


class _EventHints:
    """LISTEN editserve_events (store/postgres/listen.py) and wake async waiters.

    The waiting itself is :class:`~editserve.store.hints.EventHints`, as on SQLite.
    """

    def __init__(self, conninfo: str) -> None:
        self._hints = EventHints()
        self._listener = Listener(conninfo, NOTIFY_CHANNEL, self._notified)
        self.listening = self._listener.listening

    async def wait(self, owner: str | None, after_id: int, timeout: float) -> bool:
        return await self._hints.wait(owner, after_id, timeout)

    def stop(self) -> None:
        self._listener.stop()

    def _notified(self, payload: str) -> None:
        self._hints.written(parse_event_payload(payload))


__all__ = ["PostgresDialect", "PostgresStore", "migrate"]
