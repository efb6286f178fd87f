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
# The encoder's image processor (Qwen2-VL's smart_resize) refuses an image whose long side
# is 200 times its short side or more; it sees each input's CONDITION_AREA copy.
MAX_PROCESSOR_RATIO = 200


def pipeline_dimensions(area: int, ratio: float) -> tuple[int, int]:
    """The pipeline's own ``calculate_dimensions``: round to 32, no lower bound (0 is
    possible, and the pipeline then fails)."""
    width = math.sqrt(area * ratio)
    height = width / ratio
    return round(width / MULTIPLE) * MULTIPLE, round(height / MULTIPLE) * MULTIPLE


def elongation_problem(width: int, height: int, vae_area: int) -> str | None:
    """Why the pipeline would refuse an input of `width` x `height`, or None.

    The pipeline resizes each input twice: to `vae_area` for the VAE and to
    CONDITION_AREA for the vision-language encoder, whose processor also bounds the
    copy's aspect ratio. A side rounded to 0 or a ratio over 200 fails the job.
    """
    ratio = width / height
    for name, area in (("VAE", vae_area), ("vision-encoder", CONDITION_AREA)):
        w, h = pipeline_dimensions(area, ratio)
        if min(w, h) < MULTIPLE:
            return f"its {name} copy would be {w}x{h} pixels"
    w, h = pipeline_dimensions(CONDITION_AREA, ratio)
    if max(w, h) / min(w, h) > MAX_PROCESSOR_RATIO:
        return (
            f"its {w}x{h} vision-encoder copy has an aspect ratio of "
            f"{max(w, h) / min(w, h):.0f}:1 (the encoder takes at most {MAX_PROCESSOR_RATIO}:1)"
        )
    return None
