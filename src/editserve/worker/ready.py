"""What a worker records and says once its model is loaded: the weights record (the worker
row, /readyz, receipts) and one line for the log (the whole record goes to DEBUG)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from editserve.models.base import LoadedWeights


def weights_record(model_id: str, loaded: LoadedWeights) -> dict[str, Any]:
    """The loaded weights as the worker row, /readyz and the receipts show them."""
    return {
        "model": model_id,
        "source": loaded.source,
        "revision": loaded.revision,
        "is_tiny": loaded.is_tiny,
        "device": loaded.device,
        "dtype": loaded.dtype,
        **({"details": loaded.details} if loaded.details else {}),
    }


def ready_line(weights: Mapping[str, Any], seconds: float | None) -> str:
    """The essentials of a loaded model on one line: ``ready in 95.3 s (load 80.2 s,
    warm-up 15.1 s): MODEL on cuda:0 (GPU NAME), bfloat16, weights HUB/REPO at REVISION``
    (or ``tiny random weights``, or ``weights from the folder PATH``)."""
    details = weights.get("details") or {}
    head = "ready" if seconds is None else f"ready in {seconds:.1f} s"
    timing = [
        f"{name} {details[key]:.1f} s"
        for name, key in (("load", "load_seconds"), ("warm-up", "warmup_seconds"))
        if isinstance(details.get(key), int | float)
    ]
    if timing:
        head += f" ({', '.join(timing)})"
    device = str(weights.get("device") or "an unknown device")
    if details.get("cuda_device_name"):
        device += f" ({details['cuda_device_name']})"
    dtype = weights.get("dtype") or "default dtype"
    return f"{head}: {weights.get('model')} on {device}, {dtype}, {_weights_kind(weights)}"


def _weights_kind(weights: Mapping[str, Any]) -> str:
    """Which weights: tiny random ones (and why), a local folder, or a hub repository."""
    details = weights.get("details") or {}
    if weights.get("is_tiny"):
        return "tiny random weights" + (" (no CUDA device)" if details.get("auto_fallback") else "")
    source, revision = weights.get("source"), weights.get("revision")
    at = f" at {str(revision)[:12]}" if revision else ""
    if source is not None and details.get("folder") == source:
        return f"weights from the folder {source}{at}"
    return f"weights {source}{at}"


__all__ = ["ready_line", "weights_record"]
