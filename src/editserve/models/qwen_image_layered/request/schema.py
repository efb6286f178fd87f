"""The request model of qwen-image-layered: it validates requests *and* is the schema
served by /api/ai/models/{id} (json_request_schema / request_schema).

The fields are the pipeline's (``layers``, ``resolution``, ``true_cfg_scale``,
``negative_prompt``, ``num_inference_steps``, ``cfg_normalize``, ``use_en_prompt``) with the
defaults of Qwen's model card and app (members.py), plus the edit models' ``input_image``
(exactly one picture), ``seed``, ``preview`` and ``loras``. The prompt is optional: left
empty, the model captions the picture itself. The outputs are always RGBA PNGs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from editserve.models.qwen_image_edit.request.loras import LoraList
from editserve.models.qwen_image_edit.request.schema import (
    MAX_PROMPT_CHARS,
    ImageRef,
    check_image_refs,
    field_order,
)

MIN_LAYERS, MAX_LAYERS = 2, 10
# The pipeline's two size buckets (it asserts one of them).
RESOLUTIONS = (640, 1024)
Resolution = Literal[640, 1024]
assert set(Resolution.__args__) == set(RESOLUTIONS)  # type: ignore[attr-defined]


class QwenImageLayeredParams(BaseModel):
    """Split one picture into RGBA layers."""

    model_config = ConfigDict(
        extra="forbid",
        title="qwen-image-layered",
        json_schema_extra={"basic": ["input_image", "prompt", "layers"]},
    )

    input_image: list[ImageRef] = Field(
        min_length=1,
        max_length=1,
        description="Exactly one picture to split (a single string is accepted too).",
        json_schema_extra=field_order(0),
    )
    prompt: str = Field(
        default="",
        max_length=MAX_PROMPT_CHARS,
        description=(
            "What the picture shows, to guide the split (optional). Left empty, the model "
            "captions the picture itself (in English with use_en_prompt, else in Chinese)."
        ),
        json_schema_extra=field_order(1, renderType="textarea"),
    )
    layers: int = Field(
        default=4,
        ge=MIN_LAYERS,
        le=MAX_LAYERS,
        description="How many RGBA layers to make; the first is the bottom one.",
        json_schema_extra=field_order(2),
    )
    resolution: Resolution = Field(
        default=640,
        description=(
            "The model's size bucket: about 640x640 (recommended) or 1024x1024 pixels at the "
            "picture's aspect ratio, scaled to this server's output area."
        ),
        json_schema_extra=field_order(3),
    )
    negative_prompt: str = Field(
        default=" ",
        max_length=MAX_PROMPT_CHARS,
        description="What to avoid. Classifier-free guidance runs only with a negative prompt.",
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
        default=50, ge=1, le=100, description="Denoising steps.", json_schema_extra=field_order(6)
    )
    true_cfg_scale: float = Field(
        default=4.0,
        ge=1.0,
        le=20.0,
        description="Classifier-free guidance scale (1.0 turns CFG off).",
        json_schema_extra=field_order(7),
    )
    cfg_normalize: bool = Field(
        default=True,
        description="Rescale the guided prediction to the conditional one's norm (with CFG).",
        json_schema_extra=field_order(8),
    )
    use_en_prompt: bool = Field(
        default=True,
        description="The language of the model's own caption when no prompt is given: "
        "English (true) or Chinese (false).",
        json_schema_extra=field_order(9),
    )
    preview: bool = Field(
        default=False,
        description="Fast draft at about a quarter of the area.",
        json_schema_extra=field_order(10),
    )
    output_format: Literal["png"] = Field(
        default="png",
        description="Encoding of the layers: always png (RGBA, with transparency).",
        json_schema_extra=field_order(11, enum=["png"]),
    )
    loras: LoraList

    @field_validator("input_image", mode="before")
    @classmethod
    def _single_string_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("input_image")
    @classmethod
    def _image_refs_look_right(cls, value: list[str]) -> list[str]:
        return check_image_refs(value)
