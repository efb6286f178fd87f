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


SCOPES = ("admin", "submit", "read")  # what a key may do (migration 012)
DEFAULT_SCOPES = ("submit", "read")  # a key made without saying


@dataclass(frozen=True)
class ApiKeyRow:
    id: str
    name: str
    prefix: str
    key_hash: str
    created_at: float
    revoked_at: float | None = None
    webhook_url: str | None = None  # the key's default webhook
    webhook_secret: str | None = None  # whsec_…: signs the key's webhook deliveries
    scopes: tuple[str, ...] = DEFAULT_SCOPES  # of SCOPES, in SCOPES' order
    weight: float = 1.0  # its share of the workers when keys wait together
    max_running: int | None = None  # generations queued or running at once (None: default)
    gpu_seconds_per_day: float | None = None  # rolling 24 h (None: the server's default)

    @classmethod
    def from_row(cls, row: Any) -> ApiKeyRow:
        data = dict(row)
        data["scopes"] = scopes_of(data.get("scopes") or "")
        data["weight"] = float(data.get("weight") or 1.0)
        return cls(**data)

    def insert_params(self) -> dict[str, Any]:
        """The parameters of the ``insert_key`` statement."""
        names = ("id", "name", "prefix", "key_hash", "created_at", "webhook_secret",
                 "webhook_url", "weight", "max_running", "gpu_seconds_per_day")  # fmt: skip
        return {**{name: getattr(self, name) for name in names}, "scopes": ",".join(self.scopes)}


def scopes_of(text: str) -> tuple[str, ...]:
    """A stored scope list ("read,submit") as a tuple in SCOPES' order."""
    given = {part.strip() for part in text.split(",")}
    return tuple(scope for scope in SCOPES if scope in given)


@dataclass(frozen=True)
class AuditEntry:
    """One change to the keys (key_audit): who made it, when, what."""

    seq: int
    at: float
    actor: str  # a key id, or "cli:<user>" for `editserve keys` on the database
    action: str  # create, update, revoke
    key_id: str
    detail: dict[str, Any]

    @classmethod
    def from_row(cls, row: Any) -> AuditEntry:
        data = dict(row)
        data["detail"] = json.loads(data["detail"]) if data.get("detail") else {}
        return cls(**data)


@dataclass(frozen=True)
class UsageRow:
    """A key's use of one model in one hour (usage_hours, its shards summed)."""

    owner: str
    model: str
    hour: int  # unix seconds of the hour's start
    generations: int
    succeeded: int
    gpu_seconds: float
    output_megapixels: float

    @classmethod
    def from_row(cls, row: Any) -> UsageRow:
        data = dict(row)
        data.setdefault("hour", 0)
        return cls(
            owner=data["owner"], model=data["model"], hour=int(data["hour"]),
            generations=int(data["generations"] or 0), succeeded=int(data["succeeded"] or 0),
            gpu_seconds=float(data["gpu_seconds"] or 0.0),
            output_megapixels=float(data["output_megapixels"] or 0.0),
        )  # fmt: skip


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
    # Where its start-up is (editserve.domain.stages.Stage values) and that stage's figures.
    stage: str | None = None
    stage_detail: dict[str, Any] | None = None
    # The models it serves (one of them, `model`, in memory) and its model swaps so far.
    models: list[str] | None = None
    swaps: int = 0
    # 1 once the supervisor replaced this process after an unexpected exit (migration 008)
    restarts: int = 0

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
        data["models"] = json.loads(data["models"]) if data.get("models") else None
        data["swaps"] = int(data.get("swaps") or 0)
        data["restarts"] = int(data.get("restarts") or 0)
        return cls(**data)


@dataclass(frozen=True)
class NextClaim:
    """What a worker would claim next (Store.claim_batch's terms), given with a finish so
    that the two go in one round trip (Store.finish_and_claim)."""

    models: tuple[str, ...]
    lease_seconds: float
    max_attempts: int
    max_batch: int = 1
    loaded: str | None = None
    starved_before: float | None = None


__all__ = ["ApiKeyRow", "NextClaim", "UploadRow", "WorkerRow", "WorkerState"]


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # given up: older than webhook_max_age_seconds


@dataclass(frozen=True)
class DeliveryRow:
    """One webhook delivery in the outbox (written by a trigger with its event)."""

    id: str  # msg_<event id>: the webhook-id header, the same on every attempt
    owner: str
    generation_id: str
    event_type: str  # generation.started | generation.completed
    url: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: float
    created_at: float
    lease_expires_at: float | None = None
    last_error: str | None = None
    last_status_code: int | None = None
    delivered_at: float | None = None

    @classmethod
    def from_row(cls, row: Any) -> DeliveryRow:
        data = dict(row)
        data.pop("seq", None)
        data["status"] = DeliveryStatus(data["status"])
        return cls(**data)
