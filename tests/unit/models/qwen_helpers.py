"""Shared pieces of the tests that run the real tiny Qwen model through the adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from editserve.config import Settings
from editserve.models.base import EditJob
from editserve.models.qwen_edit_plus.adapter import QwenImageEditPlusAdapter

SMALL_VAE = 64 * 64


def picture(
    size: tuple[int, int] = (64, 64), color: tuple[int, int, int] = (200, 30, 40)
) -> Image.Image:
    """A flat picture with a line through it, so edits have some structure to work on."""
    image = Image.new("RGB", size, color)
    for x in range(size[0]):
        image.putpixel((x, size[1] // 2), (20, 200, 20))
    return image


def edit_job(**overrides: Any) -> EditJob:
    """A small, fast job (64x64 output, 64x64 VAE area, 2 steps, CFG on)."""
    values: dict[str, Any] = {
        "prompt": "make the red square blue",
        "images": [picture()],
        "width": 64,
        "height": 64,
        "seed": 7,
        "num_inference_steps": 2,
        "true_cfg_scale": 4.0,
        "vae_area": SMALL_VAE,
    }
    values.update(overrides)
    return EditJob(**values)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(np.int16)


def ignore_steps(step: int, total: int) -> None:
    return None


def load_tiny_adapter(weights: Path, data_dir: Path, **settings: Any) -> QwenImageEditPlusAdapter:
    """A loaded adapter on the tiny weights, on the CPU, without the warm-up run."""
    adapter = QwenImageEditPlusAdapter(
        Settings(data_dir=data_dir, model_weights=str(weights), **settings),
        device="cpu",
        warmup=False,
    )
    adapter.load()
    return adapter
