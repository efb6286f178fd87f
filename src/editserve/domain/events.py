"""The events a generation emits: small frozen classes, one per kind, for every store alike.

Each event has its wire name as ``type`` and its data as ``payload()``; a store writes
``stored_payload(gen, event)`` (who it is about, then what happened) in the same transaction
as the state change it reports. The SSE endpoint turns ``result_key`` into a fresh signed
``url`` when it sends the event. The stored JSON is the SSE wire format: keys and their
order here are part of the contract (tests/contract checks them byte for byte).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from editserve.domain.record import Generation, Status

STARTED = "media_generation_started"
PROGRESS = "media_generation_progress"
COMPLETED = "media_generation_completed"
CANCELLED = "media_generation_cancelled"
# A batch's every item ended (written by the store's batch trigger, migration 014; on SSE
# and to the batch's webhook, with the batch's counts).
BATCH_COMPLETED = "batch.completed"


@dataclass(frozen=True)
class Started:
    """A worker claimed the generation (attempt counts from 1)."""

    attempt: int
    type: ClassVar[str] = STARTED

    def payload(self) -> dict[str, Any]:
        return {"status": Status.PROCESSING.value, "attempt": self.attempt}


@dataclass(frozen=True)
class Progress:
    """A step of the run (emitted every few steps, not every one)."""

    step: int
    total: int
    stage: str
    type: ClassVar[str] = PROGRESS

    def payload(self) -> dict[str, Any]:
        return {
            "status": Status.PROCESSING.value,
            "step": self.step,
            "total": self.total,
            "stage": self.stage,
        }


@dataclass(frozen=True)
class Succeeded:
    """The image is stored under result_key."""

    result_key: str | None
    type: ClassVar[str] = COMPLETED

    def payload(self) -> dict[str, Any]:
        return {"status": Status.SUCCEEDED.value, "result_key": self.result_key}


@dataclass(frozen=True)
class Failed:
    """The generation gave up, with a message for the client."""

    error: str
    type: ClassVar[str] = COMPLETED

    def payload(self) -> dict[str, Any]:
        return {"status": Status.FAILED.value, "error": self.error}


@dataclass(frozen=True)
class Cancelled:
    """The generation was cancelled (queued, or stopped by its worker, or reaped)."""

    type: ClassVar[str] = CANCELLED

    def payload(self) -> dict[str, Any]:
        return {"status": Status.CANCELLED.value}


GenerationEvent = Started | Progress | Succeeded | Failed | Cancelled


def ended(status: Status, result_key: str | None, error_message: str | None) -> GenerationEvent:
    """The event of a generation reaching a terminal status."""
    if status is Status.SUCCEEDED:
        return Succeeded(result_key)
    if status is Status.FAILED:
        return Failed(error_message or "unknown error")
    return Cancelled()


def stored_payload(gen: Generation, event: GenerationEvent) -> dict[str, Any]:
    """The stored JSON of an event: who it is about, then what happened."""
    return {"generation_id": gen.id, "media_type": "image", "model": gen.model, **event.payload()}


def worker_died_message(attempts: int) -> str:
    return (
        f"the worker running this generation stopped unexpectedly {attempts} "
        f"times (for example killed by the OS or out of memory); giving up"
    )


__all__ = [
    "BATCH_COMPLETED",
    "CANCELLED",
    "COMPLETED",
    "PROGRESS",
    "STARTED",
    "Cancelled",
    "Failed",
    "GenerationEvent",
    "Progress",
    "Started",
    "Succeeded",
    "ended",
    "stored_payload",
    "worker_died_message",
]
