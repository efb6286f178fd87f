"""Where a contract test's store lives, and how to open more store objects on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from editserve.store import Store
from editserve.store.postgres import PostgresStore
from editserve.store.sqlite import SqliteStore


@dataclass
class StoreTarget:
    """One database a test runs against, and how to open stores on it."""

    kind: str
    location: str  # the SQLite path, or the PostgreSQL URL
    _opened: list[Store] = field(default_factory=list)

    def open(self) -> Store:
        """Another store object on the same database (as another process would have)."""
        store: Store = (
            SqliteStore(Path(self.location))
            if self.kind == "sqlite"
            else PostgresStore(self.location, max_connections=4)
        )
        self._opened.append(store)
        return store

    def close_all(self) -> None:
        for store in self._opened:
            store.close()
        self._opened.clear()
