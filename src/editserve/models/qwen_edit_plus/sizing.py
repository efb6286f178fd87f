"""Output sizing rules of QwenImageEditPlusPipeline, without importing it.

The pipeline computes ``calculate_dimensions(area, ratio)``: w = sqrt(area * ratio),
h = w / ratio, each rounded to a multiple of 32. We do the same for an explicit
aspect ratio so the size is known (and recorded) before the job runs.
"""

from __future__ import annotations

import math

ASPECT_RATIOS: dict[str, float] = {
    "1:1": 1.0,
    "16:9": 16 / 9,
    "9:16": 9 / 16,
    "4:3": 4 / 3,
    "3:4": 3 / 4,
    "3:2": 3 / 2,
    "2:3": 2 / 3,
}
AUTO = "auto"
MULTIPLE = 32


def calculate_dimensions(area: int, ratio: float) -> tuple[int, int]:
    """(width, height) with about `area` pixels and the given width/height ratio."""
    width = math.sqrt(area * ratio)
    height = width / ratio
    width = max(MULTIPLE, round(width / MULTIPLE) * MULTIPLE)
    height = max(MULTIPLE, round(height / MULTIPLE) * MULTIPLE)
    return int(width), int(height)


def output_size(aspect_ratio: str, area: int, last_input_size: tuple[int, int]) -> tuple[int, int]:
    """The (width, height) a request produces; `auto` follows the last input image."""
    if aspect_ratio == AUTO:
        w, h = last_input_size
        ratio = w / h
    else:
        ratio = ASPECT_RATIOS[aspect_ratio]
    return calculate_dimensions(area, ratio)


# Each input is also resized to about this area for the vision-language encoder.
CONDITION_AREA = 384 * 384


def too_elongated(width: int, height: int, area: int) -> bool:
    """True if resizing (width, height) to `area` rounds a side to 0 (under 16 px before
    the pipeline rounds to a multiple of 32)."""
    ratio = width / height
    scaled_width = math.sqrt(area * ratio)
    scaled_height = scaled_width / ratio
    return min(scaled_width, scaled_height) < MULTIPLE / 2
