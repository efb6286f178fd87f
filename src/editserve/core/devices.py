"""Which accelerators a process will use, found without importing torch."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from typing import Literal

DeviceKind = Literal["cpu", "cuda"]

# what worker processes import: the `gpu` extra (API-only installs leave it out)
MODEL_LIBRARIES = ("torch", "diffusers", "transformers")


def missing_model_libraries() -> str | None:
    """Why worker processes cannot run in this install, or None (found without importing)."""
    missing = [name for name in MODEL_LIBRARIES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (
        f"worker processes need {', '.join(missing)}, not installed here: "
        "pip install 'editserve[gpu]' (or run an API-only node: serve --workers 0)"
    )


def count_gpus() -> int:
    """Visible NVIDIA GPUs, found without importing torch into the API process."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([part for part in visible.split(",") if part.strip() not in ("", "-1")])
    nvidia_smi = shutil.which("nvidia-smi")
    if nvidia_smi is None:
        return 0
    try:
        out = subprocess.run([nvidia_smi, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))


def device_kind(device: str | None, *, gpus_visible: int | None = None) -> DeviceKind | None:
    """``cpu`` / ``cuda`` for a device setting; ``auto`` needs the number of visible GPUs."""
    value = (device or "auto").strip().lower()
    if value == "cpu":
        return "cpu"
    if value.startswith("cuda"):
        return "cuda"
    if value == "auto" and gpus_visible is not None:
        return "cuda" if gpus_visible > 0 else "cpu"
    return None
