"""Sizing a text-to-image request: the model's native sizes per aspect ratio, scaled to the
server's output area, or exactly (``width``/``height``). No torch.

The native sizes are the ones Qwen publishes for Qwen-Image and Qwen-Image-2512 (QwenLM/
Qwen-Image's README, ``aspect_ratios``; 4:3 and 3:4 were corrected from 1472x1140 to
1472x1104 on 2025-08-05, so every side is a multiple of 16). They hold ~1.5-1.8 MP;
``image_size="optimize_for_quality"`` gives them at the server's default output area
(``EDITSERVE_OUTPUT_AREA`` = 1 MP, the setting's "native") and scales them by
``sqrt(area / 1 MP)`` otherwise, each side rounded to a multiple of 16 (the pipeline's
latent grid). ``optimize_for_speed`` sizes the ratio to the area itself (~1 MP at the
default), exactly as the edit models size an aspect ratio (multiples of 32). ``preview``
uses the preview area instead, as for the edit models; tests with a tiny output area get
tiny pictures.
"""

from __future__ import annotations

import math
from typing import Any

from editserve.core.errors import InvalidParams
from editserve.core.settings import NATIVE_AREA, Settings
from editserve.models.qwen_image_edit.request.sizing import ASPECT_RATIOS, calculate_dimensions
from editserve.models.qwen_image_edit.request.sizing_plan import exact_size
from editserve.models.spec import SizePlan

# (width, height) per aspect ratio: QwenLM/Qwen-Image README (Qwen-Image and -2512 alike).
NATIVE_SIZES: dict[str, tuple[int, int]] = {
    "1:1": (1328, 1328),
    "16:9": (1664, 928),
    "9:16": (928, 1664),
    "4:3": (1472, 1104),
    "3:4": (1104, 1472),
    "3:2": (1584, 1056),
    "2:3": (1056, 1584),
}
QUALITY = "optimize_for_quality"
SPEED = "optimize_for_speed"
IMAGE_SIZES = (QUALITY, SPEED)
# Output sides are multiples of this (VAE factor 8 x patch 2).
SIDE_MULTIPLE = 16

assert set(NATIVE_SIZES) == set(ASPECT_RATIOS)


def _side(value: float) -> int:
    """Round half up to a multiple of SIDE_MULTIPLE, at least one multiple."""
    return max(SIDE_MULTIPLE, math.floor(value / SIDE_MULTIPLE + 0.5) * SIDE_MULTIPLE)


def output_size(aspect_ratio: str, image_size: str, area: int) -> tuple[int, int]:
    """The (width, height) an aspect-ratio request produces at `area` (the server's output
    or preview area; NATIVE_AREA gives the native sizes for optimize_for_quality)."""
    if image_size == SPEED:
        return calculate_dimensions(area, ASPECT_RATIOS[aspect_ratio])
    width, height = NATIVE_SIZES[aspect_ratio]
    scale = math.sqrt(area / NATIVE_AREA)
    return _side(width * scale), _side(height * scale)


def plan_size(params: Any, input_sizes: list[tuple[int, int]], settings: Settings) -> SizePlan:
    """Every text-to-image member's sizing (``ModelSpec.plan_size``, after the LoRA check).

    `params` is a member's validated request model; a text-to-image request has no inputs.
    """
    if input_sizes:
        raise InvalidParams("input_image: this model makes pictures from a prompt alone")
    area = settings.preview_area if params.preview else settings.output_area
    exact = exact_size(params, settings)
    if exact is not None:
        return SizePlan(width=exact[0], height=exact[1], area=area)
    width, height = output_size(params.aspect_ratio, params.image_size, area)
    return SizePlan(width=width, height=height, area=area)
