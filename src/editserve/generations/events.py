"""The events a generation emits: their types and payloads, for every store alike.

A store writes each event in the same transaction as the state change it reports; the SSE
endpoint turns `result_key` into a fresh signed `url` when it sends the event.
"""

from __future__ import annotations

from typing import Any

from editserve.generations.record import Generation, Status

STARTED = "media_generation_started"
PROGRESS = "media_generation_progress"
COMPLETED = "media_generation_completed"
CANCELLED = "media_generation_cancelled"

EventSpec = tuple[str, dict[str, Any]]


def payload(gen: Generation, data: dict[str, Any]) -> dict[str, Any]:
    """The stored JSON of an event: who it is about, then what happened."""
    return {"generation_id": gen.id, "media_type": "image", "model": gen.model, **data}


def started(attempt: int) -> EventSpec:
    return STARTED, {"status": "processing", "attempt": attempt}


def progress(step: int, total: int, stage: str) -> EventSpec:
    return PROGRESS, {"status": "processing", "step": step, "total": total, "stage": stage}


def cancelled() -> EventSpec:
    return CANCELLED, {"status": "cancelled"}


def failed(error: str) -> EventSpec:
    return COMPLETED, {"status": "failed", "error": error}


def ended(status: Status, result_key: str | None, error_message: str | None) -> EventSpec:
    """The event of a generation reaching a terminal status."""
    if status is Status.SUCCEEDED:
        return COMPLETED, {"status": "succeeded", "result_key": result_key}
    if status is Status.FAILED:
        return failed(error_message or "unknown error")
    return cancelled()


def worker_died_message(attempts: int) -> str:
    return (
        f"the worker running this generation stopped unexpectedly {attempts} "
        f"times (for example killed by the OS or out of memory); giving up"
    )
