"""What the workers report about a model: loading, ready or failed, and which weights."""

from __future__ import annotations

from typing import Any

from editserve.store.base import Store

# A worker that has not beaten its heart for this long is considered gone.
WORKER_FRESH_SECONDS = 30.0

TINY_WARNING = (
    "DEVELOPMENT WEIGHTS: this server runs a tiny random-weight model of the "
    "Qwen-Image-Edit-2509 architecture (no GPU was found, or model_weights=tiny). "
    "Outputs are noise. Set EDITSERVE_MODEL_WEIGHTS=Qwen/Qwen-Image-Edit-2509 on a GPU host."
)


def model_readiness(store: Store, model_id: str) -> dict[str, Any]:
    workers = [w for w in store.list_workers(WORKER_FRESH_SECONDS) if w.model in (model_id, None)]
    ready = [w for w in workers if w.state in ("ready", "busy")]
    failed = [w for w in workers if w.state == "failed"]
    if ready:
        state = "ready"
    elif any(w.state in ("starting", "loading") for w in workers):
        state = "loading"
    elif failed:
        state = "failed"
    else:
        state = "no_workers"
    weights = next((w.weights for w in ready if w.weights), None) or next(
        (w.weights for w in workers if w.weights), None
    )
    result: dict[str, Any] = {
        "readiness": state,
        "weights": weights,
        "workers": {"total": len(workers), "ready": len(ready), "failed": len(failed)},
    }
    if failed and not ready:
        result["readiness_reason"] = failed[-1].error
    if weights and weights.get("is_tiny"):
        result["warning"] = TINY_WARNING
    return result
