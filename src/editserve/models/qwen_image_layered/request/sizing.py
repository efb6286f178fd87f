"""Sizing a qwen-image-layered request: the pipeline's size bucket at the input's aspect
ratio, scaled to the server's output area. No torch.

The pipeline sizes its output as ``calculate_dimensions(resolution**2, input ratio)``
(w = sqrt(area * ratio), h = w / ratio, each rounded to a multiple of 32), and resizes the
input to that size for its VAE and its captioning copy alike. Here the area is
``resolution**2`` scaled by ``EDITSERVE_OUTPUT_AREA / 1 MP`` (the setting's "native"; the
preview area for ``preview``), so a server at the default area makes the pipeline's own
sizes and tests with a tiny output area get tiny layers. The worker passes this area as the
job's VAE area, which the adapter puts in place of ``resolution**2`` in the pipeline's
sizing (vae_image_area), so the planned size is the size made.
"""

from __future__ import annotations

from typing import Any

from editserve.core.errors import InvalidParams
from editserve.core.settings import NATIVE_AREA, Settings
from editserve.models.qwen_image_edit.request.sizing import (
    MAX_PROCESSOR_RATIO,
    pipeline_dimensions,
)
from editserve.models.qwen_image_edit.request.sizing_plan import check_inputs_fit
from editserve.models.spec import SizePlan

# The smallest area sized: one 32x32 tile (the worker's VAE-area floor).
MIN_AREA = 32 * 32


def layered_area(resolution: int, server_area: int) -> int:
    """The pixels of a `resolution` bucket at the server's output (or preview) area."""
    return max(MIN_AREA, round(resolution * resolution * server_area / NATIVE_AREA))


def plan_size(params: Any, input_sizes: list[tuple[int, int]], settings: Settings) -> SizePlan:
    """qwen-image-layered's sizing (``ModelSpec.plan_size``, after the LoRA check):
    exactly one input; its aspect ratio at the bucket's area. InvalidParams for an input
    the pipeline could not size, or could not caption: the vision-language processor sees
    the output-sized copy and takes at most MAX_PROCESSOR_RATIO:1."""
    if len(input_sizes) != 1:
        raise InvalidParams(
            f"input_image: this model splits exactly one picture (got {len(input_sizes)})"
        )
    server_area = settings.preview_area if params.preview else settings.output_area
    area = layered_area(int(params.resolution), server_area)
    check_inputs_fit(input_sizes, area)
    width, height = input_sizes[0]
    out_width, out_height = pipeline_dimensions(area, width / height)
    ratio = max(out_width, out_height) / min(out_width, out_height)
    if ratio > MAX_PROCESSOR_RATIO:
        raise InvalidParams(
            f"input_image[0]: {width}x{height} is too elongated for the model: its "
            f"{out_width}x{out_height} copy has an aspect ratio of {ratio:.0f}:1 (the "
            f"captioning encoder takes at most {MAX_PROCESSOR_RATIO}:1); crop it closer to square"
        )
    return SizePlan(width=out_width, height=out_height, area=area)
