"""Rows of the store that are not generations, and how a store is opened."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from editserve.config import Settings
    from editserve.store.sqlite import SqliteStore


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


def open_store(settings: Settings) -> SqliteStore:
    """Open the store named by settings.database_url (SQLite today)."""
    from editserve.store.sqlite import SqliteStore

    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        # sqlite:////abs/path.db and sqlite:///relative/path.db
        return SqliteStore(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("postgresql://", "postgres://")):
        raise NotImplementedError(
            "PostgreSQL is not supported yet in this build; use sqlite:///path.db"
        )
    raise ValueError(f"database_url: unsupported scheme in {url!r} (use sqlite:///path.db)")
