"""Loading an annotator's checkpoint: one ``from_pretrained`` path for the real weights (a
hub repo id, read from the Hugging Face cache that ``editserve pull`` fills) and for the
tiny random-weight twins (a folder laid out the same way), kept loaded per process.

``weights_root``: None reads the hub repo (``HF_HUB_OFFLINE=1`` after a pull); a folder
reads ``<root>/<owner>/<name>/`` (what ``models/annotators/tiny.py`` builds).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from editserve.hub.sources import HubFiles


@dataclass(frozen=True)
class Checkpoint:
    model: Any
    processor: Any
    device: str
    dtype: Any


_LOADED: dict[tuple[str, str, str, str], Checkpoint] = {}
_LOCK = threading.Lock()


def location_of(source: HubFiles, weights_root: Path | None) -> str:
    """What ``from_pretrained`` is given: the repo id, or its folder under the root."""
    if weights_root is None:
        return source.repo
    return str(Path(weights_root).joinpath(*source.repo.split("/")))


def dtype_for(device: str) -> Any:
    """Half precision on a GPU (these models are small and run in it), fp32 elsewhere."""
    import torch

    return torch.float16 if str(device).startswith("cuda") else torch.float32


def load_checkpoint(
    model_class: Any, source: HubFiles, device: str, weights_root: Path | None
) -> Checkpoint:
    """The model (eval mode, on ``device``) and its image processor, loaded once."""
    location = location_of(source, weights_root)
    key = (model_class.__name__, location, source.ref, str(device))
    with _LOCK:
        found = _LOADED.get(key)
        if found is not None:
            return found
        from transformers import AutoImageProcessor

        revision = None if weights_root is not None else source.revision
        dtype = dtype_for(device)
        model = model_class.from_pretrained(location, revision=revision, dtype=dtype)
        model.to(device).eval()
        processor = AutoImageProcessor.from_pretrained(location, revision=revision)
        loaded = Checkpoint(model, processor, str(device), dtype)
        _LOADED[key] = loaded
        return loaded


def unload_all() -> None:
    """Forget every loaded checkpoint (tests; a worker freeing memory)."""
    with _LOCK:
        _LOADED.clear()


__all__ = ["Checkpoint", "dtype_for", "load_checkpoint", "location_of", "unload_all"]
