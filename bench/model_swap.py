"""A worker's model swap between an edit model and a text-to-image model (tiny twins, CPU).

The two share their text encoder, VAE and tokenizer file for file, so a swap can keep them
where they are and read only the transformer (models/qwen_image_edit/runtime/shared.py).
Each round unloads qwen-image-edit-plus and loads qwen-image, once keeping what is shared
and once with nothing kept (how every swap went before), alternately; times are medians of
the load alone (no warm-up), bytes are what the load read from disk. On the tiny twins the
transformer is a small share of the files; on the real 20B pair it is 40.9 of 57.7 GB.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Row
from editserve.core.settings import Settings
from editserve.models.qwen_image_edit.runtime.shared import KEPT, folder_bytes
from editserve.models.registry import default_registry

SECTION = "swap"


def _adapter(model_id: str, data_dir: Path) -> Any:
    spec = default_registry().get(model_id)
    settings = Settings(data_dir=data_dir, model_weights="tiny", torch_threads=1)
    return spec.adapter_class()(settings.for_model(model_id), device="cpu", warmup=False)


def _swap(data_dir: Path, keep: bool) -> tuple[float, int]:
    """Seconds to load qwen-image after unloading qwen-image-edit-plus, and bytes read."""
    edit = _adapter("qwen-image-edit-plus", data_dir)
    edit.load()
    edit.unload()
    if not keep:
        KEPT.take(None, "", "", "none")  # drop what was kept, as before
    generate = _adapter("qwen-image", data_dir)
    started = time.perf_counter()
    loaded = generate.load()
    seconds = time.perf_counter() - started
    folder = Path(loaded.details["folder"])
    kept = loaded.details.get("kept_from_previous_model", {})
    generate.unload()
    KEPT.take(None, "", "", "none")
    return seconds, folder_bytes(folder) - int(kept.get("bytes_not_read", 0))


def run(repeat: int) -> list[Row]:
    kept: list[tuple[float, int]] = []
    plain: list[tuple[float, int]] = []
    with tempfile.TemporaryDirectory() as folder:
        _swap(Path(folder), True)  # builds the twins, warms the file cache: not counted
        for _ in range(max(1, repeat)):
            kept.append(_swap(Path(folder), True))
            plain.append(_swap(Path(folder), False))
    ours_s = statistics.median(s for s, _ in kept)
    base_s = statistics.median(s for s, _ in plain)
    ours_b, base_b = kept[0][1] / 1e6, plain[0][1] / 1e6
    return [
        Row(SECTION, "swap edit → text-to-image: load time (tiny twins)", ours_s, base_s, "s",
            note="keeping the text encoder, VAE and tokenizer vs reading all"),
        Row(SECTION, "swap edit → text-to-image: bytes read from disk (tiny twins)", ours_b,
            base_b, "MB", note="real pair: 40.9 GB (the transformer) vs 57.7 GB"),
    ]  # fmt: skip
