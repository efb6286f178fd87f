"""The job store: the queue, the records, the events, keys, uploads and workers.

One state machine (``core.QueueStore``) over two SQL dialects, picked by the URL scheme of
``settings.database_url``: ``sqlite.SqliteStore`` for one machine and
``postgres.PostgresStore`` for API nodes and workers on many machines. The dialect packages
are imported only when opened, so SQLite users never import psycopg.

    store/
      protocol/     what callers may ask, by role (JobQueue, RecordStore, KeyStore, ...;
                    and combinations); Store: every role, for those holding it all
      rows.py       ApiKeyRow, UploadRow, WorkerRow, WorkerState
      core.py       QueueStore: every method and transition, written once
      listing.py    its reads: lists and counts flat in history size, events
      dialect.py    what core needs of a database; query/migration/schema loading
      sqlite/       SqliteDialect, SqliteStore (store.py), and the dialect's SQL:
      postgres/     PostgresDialect, PostgresStore, migrate (store.py), LISTEN/NOTIFY
                    hints (listen.py, notify.py), and the dialect's SQL:
        queries.sql   the named statements, the same names in both (but the
                      one-round-trip hot path: claim_started, finish_ended)
        migrations/   NNN_name.sql, applied in order at open
        schema.sql    the fresh-install schema (= every migration applied), generated
                      from migrations/ by scripts/schema_snapshot.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from editserve.store.keys import KEY_FIELDS, LastAdmin
from editserve.store.protocol import (
    BatchStore,
    ClusterStore,
    DispatchStore,
    EventStore,
    FeedStore,
    GenerationStore,
    JobQueue,
    KeyStore,
    MetricsStore,
    OutboxStore,
    PruneStore,
    QueueFull,
    RecordStore,
    RetentionStore,
    StatsStore,
    Store,
    UploadStore,
    UsageStore,
    ViewStore,
    WorkerRegistry,
    WorkerStore,
)

if TYPE_CHECKING:
    from editserve.core.settings import Settings


def is_store_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "the database is busy or unreachable; retry shortly"."""
    from editserve.store.sqlite import SqliteDialect  # the standard library only

    if SqliteDialect.is_unavailable(exc):
        return True
    postgres = sys.modules.get("editserve.store.postgres")  # loaded iff a store uses it
    return postgres is not None and bool(postgres.PostgresDialect.is_unavailable(exc))


def open_store(settings: Settings, *, worker: bool = False) -> Store:
    """Open the store named by settings.database_url: sqlite:///… or postgresql://….

    ``worker``: a worker's store (PostgreSQL keeps one plan per statement: store/postgres/store.py).
    """
    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        from editserve.store.sqlite import SqliteStore

        # sqlite:////abs/path.db and sqlite:///relative/path.db
        return SqliteStore(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("postgresql://", "postgres://")):
        from editserve.store.postgres import PostgresStore

        return PostgresStore(url, plans_kept=worker)
    raise ValueError(
        f"database_url: unsupported scheme in {url!r} "
        "(use sqlite:///path.db or postgresql://user@host/db)"
    )


__all__ = [
    "BatchStore",
    "ClusterStore",
    "DispatchStore",
    "EventStore",
    "FeedStore",
    "GenerationStore",
    "JobQueue",
    "KeyStore",
    "MetricsStore",
    "OutboxStore",
    "PruneStore",
    "QueueFull",
    "RecordStore",
    "RetentionStore",
    "StatsStore",
    "Store",
    "UploadStore",
    "UsageStore",
    "ViewStore",
    "WorkerRegistry",
    "WorkerStore",
    "is_store_unavailable",
    "LastAdmin",
    "KEY_FIELDS",
    "open_store",
]
