"""A generation: one output image of one request, and its legal states.

queued ──▶ processing ──▶ succeeded | failed | cancelled
   └──────────────────────▶ cancelled
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


ACTIVE = (Status.QUEUED, Status.PROCESSING)
TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)


def _json(value: str | None) -> Any:
    return json.loads(value) if value else None


@dataclass
class Generation:
    id: str
    owner: str
    model: str
    status: Status
    params: dict[str, Any]
    inputs: list[dict[str, Any]]
    batch_id: str
    batch_index: int
    seed: int
    width: int
    height: int
    area: int
    enqueued_at: float
    priority: int = 0
    target_namespace: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    started_at: float | None = None
    completed_at: float | None = None
    result_key: str | None = None
    error_message: str | None = None
    progress_step: int | None = None
    progress_total: int | None = None
    stage: str | None = None
    attempts: int = 0
    worker_id: str | None = None
    lease_expires_at: float | None = None
    cancel_requested: bool = False
    timings: dict[str, float] | None = None
    receipt: dict[str, Any] | None = None
    webhook: str | None = None  # where this generation's events are delivered
    webhook_events: list[str] | None = None  # which: start, completed
    # A layered model's outputs, in order (result_key is the first); None for one output.
    layer_keys: list[str] | None = None
    # What its run cost (set by the worker's finish): worker seconds (its share of a
    # batched call, plus its own storing) and output megapixels (usage, quotas).
    gpu_seconds: float | None = None
    output_megapixels: float | None = None
    # An item of a batch (POST /api/ai/batches): the batch, its place in it, the caller's id.
    batch_ref: str | None = None
    batch_item: int | None = None
    custom_id: str | None = None

    @property
    def output_keys(self) -> list[str]:
        """Every stored output of the generation, in order: its layers, or its one result."""
        if self.layer_keys:
            return list(self.layer_keys)
        return [self.result_key] if self.result_key else []

    @classmethod
    def from_row(cls, row: Any) -> Generation:
        data = dict(row)
        data.pop("seq", None)
        data["status"] = Status(data["status"])
        data["params"] = _json(data["params"]) or {}
        data["inputs"] = _json(data["inputs"]) or []
        data["timings"] = _json(data.get("timings"))
        data["receipt"] = _json(data.get("receipt"))
        data["webhook_events"] = _json(data.get("webhook_events"))
        data["layer_keys"] = _json(data.get("layer_keys"))
        data["cancel_requested"] = bool(data.get("cancel_requested"))
        return cls(**data)


@dataclass(frozen=True)
class Event:
    id: int
    owner: str
    generation_id: str
    type: str
    data: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0

    @classmethod
    def from_row(cls, row: Any) -> Event:
        data = dict(row)
        data["data"] = json.loads(data["data"])
        return cls(**data)
