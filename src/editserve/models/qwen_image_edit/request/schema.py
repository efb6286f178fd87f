"""The request models of the family's members: each validates requests *and* is the schema
served by /api/ai/models/{id} (json_request_schema / request_schema). 2509's
(qwen-image-edit-plus) is the base; 2511's is it under its own title; v1's takes exactly one
image and 50 steps."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import MaxLen
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_serializer,
    field_validator,
)

from editserve.models.qwen_image_edit.request.control import (
    CONTROL_DESCRIPTION,
    ControlRequest,
    check_budget,
    stored_control,
)
from editserve.models.qwen_image_edit.request.loras import LoraList
from editserve.models.qwen_image_edit.request.refs import (
    MAX_IMAGE_URL_CHARS as MAX_IMAGE_URL_CHARS,
)
from editserve.models.qwen_image_edit.request.refs import check_image_ref, check_image_refs
from editserve.models.qwen_image_edit.request.sizing import ASPECT_RATIOS, AUTO

MAX_PROMPT_CHARS = 4000
MAX_INPUT_IMAGES = 3
# mask_feather's bound (pixels).
MAX_MASK_FEATHER = 256
MASK_DESCRIPTION = (
    "Masked edit (extension): an image of Picture 1's size marking the region to change "
    "(a URL, data URI or upload URL). With an alpha channel, transparent = edit (OpenAI's "
    "rule, alpha below 50%); otherwise white = edit (luminance at least 50%). Only the "
    "masked region changes: outside it (beyond mask_feather) the output equals Picture 1 "
    "pixel for pixel (png output), and the output has Picture 1's size (aspect_ratio is "
    "ignored; width/height, if given, must be that size). Refused: a mask of another size, "
    "one that marks nothing or everything."
)
# Exact output sizes (width/height) are multiples of this (the pipeline's latent grid:
# VAE factor 8 x patch 2); their bounds are server settings (exact_size_*).
EXACT_SIZE_MULTIPLE = 16

AspectRatio = Literal["1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "auto"]
assert set(AspectRatio.__args__) == set(ASPECT_RATIOS) | {AUTO}  # type: ignore[attr-defined]

ImageRef = Annotated[
    str,
    Field(
        min_length=1,
        description="An http(s) URL, a data:image/...;base64, URI, or an upload URL.",
        json_schema_extra={"renderType": "image-url", "format": "uri"},
    ),
]


def max_pictures(model: type[BaseModel]) -> int:
    """A member's picture budget: its input_image's longest list (the control map counts)."""
    for item in model.model_fields["input_image"].metadata:
        if isinstance(item, MaxLen):
            return int(item.max_length)
    return MAX_INPUT_IMAGES


def field_order(n: int, **extra: Any) -> dict[str, Any]:
    """A field's place in the served schema (``x-order``, what the workbench's form follows)."""
    return {"x-order": n, **extra}


def exact_side(value: int | None) -> int | None:
    """An exact width or height: a positive multiple of 16 (its bounds are settings,
    checked when the request is sized)."""
    if value is not None and (value < 1 or value % EXACT_SIZE_MULTIPLE):
        raise ValueError(f"must be a positive multiple of {EXACT_SIZE_MULTIPLE} (got {value})")
    return value


class QwenImageEditPlusParams(BaseModel):
    """Edit 1-3 images from a text instruction."""

    model_config = ConfigDict(
        extra="forbid",
        title="qwen-image-edit-plus",
        json_schema_extra={"basic": ["prompt", "input_image", "aspect_ratio"]},
    )

    prompt: str = Field(
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        description="What to change. Refer to inputs as Picture 1, Picture 2, Picture 3.",
        json_schema_extra=field_order(0, renderType="textarea"),
    )
    input_image: list[ImageRef] = Field(
        min_length=1,
        max_length=MAX_INPUT_IMAGES,
        description="1-3 input images (a single string is accepted too).",
        json_schema_extra=field_order(1),
    )
    aspect_ratio: AspectRatio = Field(
        default="1:1",
        description="Output aspect ratio; `auto` follows the last input image.",
        json_schema_extra=field_order(2),
    )
    negative_prompt: str = Field(
        default=" ",
        max_length=MAX_PROMPT_CHARS,
        description="What to avoid. Classifier-free guidance runs only with a negative prompt.",
        json_schema_extra=field_order(3),
    )
    output_format: Literal["webp", "jpg", "png"] = Field(
        default="png", description="Encoding of the output image.", json_schema_extra=field_order(4)
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        lt=2**32,
        description="Random seed; drawn at random when omitted. The seed used is reported.",
        json_schema_extra=field_order(5),
    )
    num_inference_steps: int = Field(
        default=40, ge=1, le=100, description="Denoising steps.", json_schema_extra=field_order(6)
    )
    true_cfg_scale: float = Field(
        default=4.0,
        ge=1.0,
        le=20.0,
        description="Classifier-free guidance scale (1.0 turns CFG off).",
        json_schema_extra=field_order(7),
    )
    preview: bool = Field(
        default=False,
        description="Fast draft at about a quarter of the native area (output and VAE alike).",
        json_schema_extra=field_order(8),
    )
    width: int | None = Field(
        default=None,
        description=(
            "Exact output width in pixels (extension; give height too). Overrides "
            "aspect_ratio; a multiple of 16, 256-2048, width x height at most 4 MP."
        ),
        json_schema_extra=field_order(9, multipleOf=EXACT_SIZE_MULTIPLE),
    )
    height: int | None = Field(
        default=None,
        description="Exact output height in pixels (extension; give width too).",
        json_schema_extra=field_order(10, multipleOf=EXACT_SIZE_MULTIPLE),
    )
    output_quality: int = Field(
        default=95,
        ge=1,
        le=100,
        description="Quality of jpg and webp outputs (1-100); png is lossless.",
        json_schema_extra=field_order(11),
    )
    loras: LoraList
    mask: ImageRef | None = Field(
        default=None, description=MASK_DESCRIPTION, json_schema_extra=field_order(13)
    )
    mask_feather: int = Field(
        default=0,
        ge=0,
        le=MAX_MASK_FEATHER,
        description=(
            "Soft seam of a masked edit, in pixels (0-256, default 0: a hard edge): the "
            "edit fades out over this many pixels outside the mask."
        ),
        json_schema_extra=field_order(14),
    )
    control: ControlRequest | None = Field(  # type: ignore[valid-type]
        default=None,
        description=CONTROL_DESCRIPTION,
        json_schema_extra=field_order(15, renderType="control"),
    )

    @field_validator("input_image", mode="before")
    @classmethod
    def _single_string_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("mask", mode="before")
    @classmethod
    def _empty_mask_is_none(cls, value: Any) -> Any:
        # a form's empty field (the workbench sends one) means no mask
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("mask")
    @classmethod
    def _mask_ref_looks_right(cls, value: str | None) -> str | None:
        return None if value is None else check_image_ref(value)

    @field_validator("control", mode="before")
    @classmethod
    def _empty_control_is_none(cls, value: Any) -> Any:
        # a form's empty field means no control map
        return None if value == "" or value == {} else value

    @field_validator("control")
    @classmethod
    def _control_fits_the_budget(cls, value: Any, info: ValidationInfo) -> Any:
        # the map is Picture N, N = len(input_image) + 1: the picture budget counts it
        if "input_image" in info.data:  # (a bad input_image is reported on its own)
            check_budget(value, len(info.data["input_image"]), max_pictures(cls))
        return value

    @field_serializer("control")
    def _stored_control(self, value: Any) -> dict[str, Any] | None:
        return stored_control(value)

    @field_serializer("mask")
    def _stored_mask(self, value: str | None) -> str | None:
        # Stored with the generation: a data: URI only as a marker (its decoded mask is
        # stored as an input), like input_image's.
        return "data:" if value is not None and value[:5].lower() == "data:" else value

    @field_validator("width", "height")
    @classmethod
    def _exact_side(cls, value: int | None) -> int | None:
        return exact_side(value)

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty or only whitespace")
        return value

    @field_validator("input_image")
    @classmethod
    def _image_refs_look_right(cls, value: list[str]) -> list[str]:
        return check_image_refs(value)


# --- the other members' request models ------------------------------------------------------


class QwenImageEdit2511Params(QwenImageEditPlusParams):
    """Edit 1-3 images from a text instruction (Qwen-Image-Edit-2511)."""

    model_config = ConfigDict(
        extra="forbid",
        title="qwen-image-edit-2511",
        json_schema_extra={"basic": ["prompt", "input_image", "aspect_ratio"]},
    )


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
        json_schema_extra=field_order(0, renderType="textarea"),
    )
    input_image: list[ImageRef] = Field(
        min_length=1,
        max_length=1,
        description="Exactly one input image (a single string is accepted too).",
        json_schema_extra=field_order(1),
    )
    num_inference_steps: int = Field(
        default=50, ge=1, le=100, description="Denoising steps.", json_schema_extra=field_order(6)
    )


def request_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema served as json_request_schema / request_schema of a member's
    request model."""
    schema = model.model_json_schema()
    # Optional fields (`seed`, `width`, `height`; a text-to-image member's `guidance`) are
    # Optional only so that "omitted" means "draw one" / "size by aspect_ratio" / "the other
    # field decides"; advertise their type.
    for field in schema["properties"].values():
        if "anyOf" in field and {"type": "null"} in field["anyOf"]:
            given = next(s for s in field.pop("anyOf") if s.get("type") != "null")
            field.update({k: v for k, v in given.items() if k not in field})  # own words win
            field.pop("default", None)
    inline_control(schema)
    return schema


def inline_control(schema: dict[str, Any]) -> None:
    """``control``'s fields written out in its property (no ``$ref``: the model card and
    /openapi.json show them where they are used), each option's own type advertised."""
    field = schema["properties"].get("control")
    ref = (field or {}).pop("$ref", None)
    if field is None or ref is None:
        return
    defined = dict(schema.get("$defs", {}).pop(ref.rsplit("/", 1)[-1]))
    for option in defined.get("properties", {}).values():
        if "anyOf" in option and {"type": "null"} in option["anyOf"]:
            given = next(s for s in option.pop("anyOf") if s.get("type") != "null")
            option.update({k: v for k, v in given.items() if k not in option})
            option.pop("default", None)
    field.update({k: v for k, v in defined.items() if k not in ("title", "description")})
    if not schema.get("$defs"):
        schema.pop("$defs", None)
