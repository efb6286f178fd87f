"""The request model of qwen-image-edit (v1): exactly one input image, and the v1 pipeline's
recommended call (50 steps, CFG 4.0 with a " " negative prompt)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from editserve.models.qwen_edit_plus.schema import ImageRef, QwenImageEditPlusParams


def _order(n: int, **extra: Any) -> dict[str, Any]:
    return {"x-order": n, **extra}


class QwenImageEditParams(QwenImageEditPlusParams):
    """Edit one image from a text instruction (Qwen-Image-Edit, v1)."""

    model_config = ConfigDict(
        extra="forbid",
        title="qwen-image-edit",
        json_schema_extra={"basic": ["prompt", "input_image", "aspect_ratio"]},
    )

    prompt: str = Field(
        min_length=1,
        max_length=4000,
        description="What to change in the input image.",
        json_schema_extra=_order(0, renderType="textarea"),
    )
    input_image: list[ImageRef] = Field(
        min_length=1,
        max_length=1,
        description="Exactly one input image (a single string is accepted too).",
        json_schema_extra=_order(1),
    )
    num_inference_steps: int = Field(
        default=50, ge=1, le=100, description="Denoising steps.", json_schema_extra=_order(6)
    )
