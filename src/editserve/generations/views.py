"""How a generation looks on the wire (GET /api/ai/queue/{id} and friends)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from editserve.generations.record import Generation, Status

UrlFor = Callable[[str], str]


def _unix(value: float | None) -> int | None:
    return int(value) if value is not None else None


def generation_view(
    gen: Generation,
    url_for: UrlFor,
    *,
    queue_position: int | None = None,
    eta_seconds: float | None = None,
) -> dict[str, Any]:
    input_urls = [url_for(item["key"]) for item in gen.inputs]
    params = dict(gen.params)
    params["input_image"] = [
        input_urls[i] if ref.startswith("data:") else ref
        for i, ref in enumerate(params.get("input_image", []))
    ]
    prompt = params.pop("prompt", None)
    view: dict[str, Any] = {
        "generation_id": gen.id,
        "model_name": gen.model,
        "prompt": prompt,
        "media_type": "image",
        "status": gen.status.value,
        "result_url": url_for(gen.result_key) if gen.result_key else None,
        "error_message": gen.error_message,
        "enqueued_at": _unix(gen.enqueued_at),
        "started_at": _unix(gen.started_at),
        "completed_at": _unix(gen.completed_at),
        **params,
        "seed": gen.seed,
        "target_namespace": gen.target_namespace,
        "width": gen.width,
        "height": gen.height,
        "progress": (
            {"step": gen.progress_step, "total": gen.progress_total} if gen.progress_total else None
        ),
        "stage": gen.stage,
        "queue_position": queue_position if gen.status is Status.QUEUED else None,
        "eta_seconds": eta_seconds,
        "attempts": gen.attempts,
        "cancel_requested": gen.cancel_requested,
        "input_urls": input_urls,
        "timings": gen.timings,
        "receipt": gen.receipt,
    }
    return view
