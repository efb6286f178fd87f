"""The parameters of the state machine's statements (store/core.py runs them): a claim's
terms, a finish's change and its ended event, the started event's template that the
one-statement claim fills in, and the columns a finish_claim row adds to a claim's. (The
queue's fixed statuses are no parameters: store/dialect.py writes them into the SQL.)"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from editserve.domain import events
from editserve.domain.record import TERMINAL, Generation, Status
from editserve.store.dialect import dumps, event_row

CLAIMED_STAGE = "starting"  # the stage of a job just claimed, before its first progress
# Where claim_started puts the claimed row's attempt, model and id into the started event.
_MARKS = {"attempt_mark": "-999999937", "model_mark": '"@model"', "id_mark": '"@id"'}


def json_or_none(value: Any) -> str | None:
    return dumps(value) if value is not None else None


@cache
def started_template() -> dict[str, str]:
    """The started event as the store writes it, with marks for the one-statement claim to
    replace by the claimed row's values: one event format, written here for both paths."""
    mark = Generation(
        id="@id", owner="", model="@model", status=Status.PROCESSING, params={}, inputs=[],
        batch_id="", batch_index=0, seed=0, width=0, height=0, area=0, enqueued_at=0.0,
    )  # fmt: skip
    started = events.Started(int(_MARKS["attempt_mark"]))
    data = dumps(events.stored_payload(mark, started))
    assert all(data.count(text) == 1 for text in _MARKS.values()), data
    return {"event_type": started.type, "event_data": data, **_MARKS}


def claim_terms(
    worker_id: str,
    models: Sequence[str],
    lease_seconds: float,
    max_attempts: int,
    loaded: str | None,
    starved_before: float | None,
) -> dict[str, Any]:
    """The parameters of a claim."""
    return {
        "worker_id": worker_id,
        "lease_seconds": float(lease_seconds),
        "stage": CLAIMED_STAGE,
        "models": list(models),
        "max_attempts": max_attempts,
        "loaded": loaded,
        "starved_before": None if starved_before is None else float(starved_before),
        "finishing": None,
    }


def generation_params(
    gen: Generation, vtag: float, fair_cost: float, owner_seq: int | None = None
) -> dict[str, Any]:
    """The parameters of ``insert_generation``: the record, its fair-share tag and its
    number among its key's (None: the numbering trigger gives the next)."""
    return {
        "id": gen.id, "owner": gen.owner, "model": gen.model, "status": gen.status.value,
        "params": dumps(gen.params), "inputs": dumps(gen.inputs), "batch_id": gen.batch_id,
        "batch_index": gen.batch_index, "priority": gen.priority, "seed": gen.seed,
        "width": gen.width, "height": gen.height, "area": gen.area,
        "target_namespace": gen.target_namespace, "idempotency_key": gen.idempotency_key,
        "request_hash": gen.request_hash, "enqueued_at": gen.enqueued_at,
        "webhook": gen.webhook, "webhook_events": json_or_none(gen.webhook_events),
        "vtag": vtag, "fair_cost": fair_cost, "batch_ref": gen.batch_ref,
        "batch_item": gen.batch_item, "custom_id": gen.custom_id, "owner_seq": owner_seq,
    }  # fmt: skip


def finish_change(
    gen: Generation,
    worker_id: str,
    status: Status,
    *,
    result_key: str | None = None,
    error_message: str | None = None,
    timings: dict[str, float] | None = None,
    receipt: dict[str, Any] | None = None,
    layer_keys: list[str] | None = None,
    gpu_seconds: float | None = None,
    output_megapixels: float | None = None,
) -> tuple[dict[str, Any], events.GenerationEvent]:
    """The parameters of a finish, and the event it emits (`layer_keys`: a layered
    model's outputs in order, result_key the first; the event names result_key only)."""
    assert status in TERMINAL
    change = {
        "id": gen.id,
        "worker_id": worker_id,
        "status": status.value,
        "result_key": result_key,
        "error_message": error_message,
        "timings": json_or_none(timings),
        "receipt": json_or_none(receipt),
        "layer_keys": json_or_none(layer_keys),
        "gpu_seconds": gpu_seconds,
        "output_megapixels": output_megapixels,
    }
    return change, events.ended(status, result_key, error_message)


def finish_terms(
    change: dict[str, Any], gen: Generation, event: events.GenerationEvent
) -> dict[str, Any]:
    """A finish's parameters as PostgreSQL's finish fragment takes them (finish_ended,
    finish_claim): the change, and its ended event as the store writes it."""
    row = event_row(gen, event)
    kept = ("worker_id", "result_key", "error_message", "timings", "receipt", "layer_keys",
            "gpu_seconds", "output_megapixels")  # fmt: skip
    return {
        **{key: change[key] for key in kept},
        "finishing": change["id"],
        "finish_status": change["status"],
        "ended_type": row["type"],
        "ended_data": row["data"],
    }


def claimed_part(row: dict[str, Any]) -> dict[str, Any]:
    """A finish_claim row without the finish's columns: a claim_started row."""
    return {key: value for key, value in row.items() if key not in _FINISH_COLUMNS}


_FINISH_COLUMNS = ("finished", "finish_event_id", "finish_owner")


__all__ = [
    "CLAIMED_STAGE",
    "claimed_part",
    "finish_change",
    "finish_terms",
    "json_or_none",
    "claim_terms",
    "started_template",
]
