"""The PostgreSQL dialect of the job store, for API nodes and workers on many machines.

    postgres/
      store.py      PostgresDialect, PostgresStore, migrate (see its module doc)
      listen.py     LISTEN on a channel in a daemon thread (event and work hints)
      notify.py     NOTIFY those hints after commit, at a bounded rate
      queries.sql   the named statements (the same names as sqlite/queries.sql)
      migrations/   NNN_name.sql, applied in order at open under an advisory lock
      schema.sql    the fresh-install schema: GENERATED from migrations/ by
                    scripts/schema_snapshot.py (never edited by hand)

Imported only when a PostgreSQL store is opened (store/__init__.py checks
``sys.modules`` for this package), so SQLite users never import psycopg.
"""

from __future__ import annotations

from editserve.store.postgres.store import PostgresDialect, PostgresStore, migrate

__all__ = ["PostgresDialect", "PostgresStore", "migrate"]
