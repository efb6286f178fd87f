"""The SQLite dialect of the job store: one file, shared by every process on one machine.

    sqlite/
      store.py      SqliteDialect, SqliteStore (connections, transactions, migrate)
      queries.sql   the named statements (the same names as postgres/queries.sql)
      migrations/   NNN_name.sql, applied in order at open
      schema.sql    the fresh-install schema: GENERATED from migrations/ by
                    scripts/schema_snapshot.py (never edited by hand)

Standard library only: opening a SQLite store never imports psycopg.
"""

from __future__ import annotations

from editserve.store.sqlite.store import SqliteDialect, SqliteStore, split_statements

__all__ = ["SqliteDialect", "SqliteStore", "split_statements"]
