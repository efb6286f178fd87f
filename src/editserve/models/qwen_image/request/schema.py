"""The request models of the text-to-image members: each validates requests *and* is the
schema served by /api/ai/models/{id} (json_request_schema / request_schema).

The fields follow the hosted API's shape for ``qwen-image`` (Replicate's ``qwen/qwen-image``
input schema: ``prompt``, ``negative_prompt``, ``aspect_ratio`` (default 16:9),
``image_size`` (optimize_for_quality | optimize_for_speed), ``num_inference_steps`` (1-50,
default 30), ``guidance`` (0-10, default 3), ``seed``, ``output_format`` (default webp),
``output_quality`` (0-100, default 80)), plus diffusers' ``true_cfg_scale`` and the edit
models' extensions (``width``/``height``, ``loras``, ``preview``). There is no
``input_image``: unknown fields are refused, as for the edit models.

``guidance`` is the hosted name of ``true_cfg_scale``: a request may give either; when it
gives both, ``true_cfg_scale`` wins (it is the pipeline's own argument). Below 1 (the
hosted range starts at 0) both mean "no CFG", stored as ``true_cfg_scale`` 1.0.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from editserve.models.qwen_image.request.sizing import IMAGE_SIZES, NATIVE_SIZES
from editserve.models.qwen_image_edit.request.loras import LoraList
from editserve.models.qwen_image_edit.request.schema import (
    EXACT_SIZE_MULTIPLE,
    MAX_PROMPT_CHARS,
    exact_side,
    field_order,
)

# The hosted API's words for an empty prompt.
EMPTY_PROMPT = "Prompt cannot be empty"

AspectRatio = Literal["1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3"]
ImageSize = Literal["optimize_for_quality", "optimize_for_speed"]
assert set(AspectRatio.__args__) == set(NATIVE_SIZES)  # type: ignore[attr-defined]
assert set(ImageSize.__args__) == set(IMAGE_SIZES)  # type: ignore[attr-defined]


class QwenImageParams(BaseModel):
    """Make a picture from a text prompt (Qwen-Image)."""

    model_config = ConfigDict(
        extra="forbid",
        title="qwen-image",
        json_schema_extra={"basic": ["prompt", "aspect_ratio"]},
    )

    prompt: str = Field(
        max_length=MAX_PROMPT_CHARS,
        description=(
            "What to make, in English or Chinese. Text to render in the picture goes in quotes."
        ),
        json_schema_extra=field_order(0, renderType="textarea", minLength=1),
    )
    aspect_ratio: AspectRatio = Field(
        default="16:9",
        description="Output aspect ratio (the model's native sizes, e.g. 16:9 is 1664x928).",
        json_schema_extra=field_order(1),
    )
    image_size: ImageSize = Field(
        default="optimize_for_quality",
        description=(
            "optimize_for_quality: the model's native sizes (~1.6 MP); optimize_for_speed: "
            "about 1 MP. Ignored when width and height are given."
        ),
        json_schema_extra=field_order(2),
    )
    negative_prompt: str = Field(
        default=" ",
        max_length=MAX_PROMPT_CHARS,
        description="What to avoid. Classifier-free guidance runs only with a negative prompt.",
        json_schema_extra=field_order(3),
    )
    output_format: Literal["webp", "jpg", "png"] = Field(
        default="webp",
        description="Encoding of the output image.",
        json_schema_extra=field_order(4),
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        lt=2**32,
        description="Random seed; drawn at random when omitted. The seed used is reported.",
        json_schema_extra=field_order(5),
    )
    num_inference_steps: int = Field(
        default=30, ge=1, le=50, description="Denoising steps.", json_schema_extra=field_order(6)
    )
    guidance: float | None = Field(
        default=None,
        ge=0.0,
        le=10.0,
        description=(
            "Guidance scale, the hosted API's name for true_cfg_scale (below 1 turns CFG "
            "off). When both are given, true_cfg_scale wins."
        ),
        json_schema_extra=field_order(7),
    )
    true_cfg_scale: float = Field(
        default=3.0,
        ge=1.0,
        le=20.0,
        description="Classifier-free guidance scale (1.0 turns CFG off); wins over guidance.",
        json_schema_extra=field_order(8),
    )
    preview: bool = Field(
        default=False,
        description="Fast draft at about a quarter of the native area.",
        json_schema_extra=field_order(9),
    )
    width: int | None = Field(
        default=None,
        description=(
            "Exact output width in pixels (extension; give height too). Overrides "
            "aspect_ratio and image_size; a multiple of 16, 256-2048, width x height at "
            "most 4 MP."
        ),
        json_schema_extra=field_order(10, multipleOf=EXACT_SIZE_MULTIPLE),
    )
    height: int | None = Field(
        default=None,
        description="Exact output height in pixels (extension; give width too).",
        json_schema_extra=field_order(11, multipleOf=EXACT_SIZE_MULTIPLE),
    )
    loras: LoraList
    output_quality: int = Field(
        default=80,
        ge=0,
        le=100,
        description="Quality of jpg and webp outputs (0-100); png is lossless.",
        json_schema_extra=field_order(13),
    )

    @model_validator(mode="before")
    @classmethod
    def _guidance_sets_true_cfg_scale(cls, data: Any) -> Any:
        """A request that gives ``guidance`` and not ``true_cfg_scale`` sets the latter (the
        range check stays ``guidance``'s: an out-of-range value is refused by name)."""
        if not isinstance(data, dict) or "true_cfg_scale" in data:
            return data
        guidance = data.get("guidance")
        if guidance is None or isinstance(guidance, bool):
            return data
        try:
            value = float(guidance)
        except (TypeError, ValueError):
            return data  # guidance's own validation words the problem
        return {**data, "true_cfg_scale": min(max(1.0, value), 20.0)}

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(EMPTY_PROMPT)
        return value

    @field_validator("width", "height")
    @classmethod
    def _exact_side(cls, value: int | None) -> int | None:
        return exact_side(value)


class QwenImage2512Params(QwenImageParams):
    """Make a picture from a text prompt (Qwen-Image-2512)."""

    model_config = ConfigDict(
        extra="forbid",
        title="qwen-image-2512",
        json_schema_extra={"basic": ["prompt", "aspect_ratio"]},
    )
