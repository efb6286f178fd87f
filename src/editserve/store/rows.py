"""The store's rows that are not generations: API keys, uploads and worker processes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class WorkerState(StrEnum):
    """Where a worker process is in its life (stored as its value in workers.state).

    starting ─▶ loading ─▶ ready ⇄ busy ─▶ stopped
                   └──────▶ failed (the model did not load; the supervisor retries)
    """

    STARTING = "starting"
    LOADING = "loading"
    READY = "ready"
    BUSY = "busy"
    FAILED = "failed"
    STOPPED = "stopped"


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
    state: WorkerState
    started_at: float
    heartbeat_at: float
    model: str | None = None
    weights: dict[str, Any] | None = None
    error: str | None = None
    # Where its start-up is (editserve.startup.Stage values) and that stage's figures.
    stage: str | None = None
    stage_detail: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # a caller that passes the plain string still gets (and is checked against) the enum
        object.__setattr__(self, "state", WorkerState(self.state))

    @classmethod
    def from_row(cls, row: Any) -> WorkerRow:
        data = dict(row)
        data["state"] = WorkerState(data["state"])
        data["weights"] = json.loads(data["weights"]) if data.get("weights") else None
        detail = data.get("stage_detail")
        data["stage_detail"] = json.loads(detail) if detail else None
        return cls(**data)


__all__ = ["ApiKeyRow", "UploadRow", "WorkerRow", "WorkerState"]
