"""The OpenAI Images API's shapes (``/v1/images/edits``, ``/v1/images/generations``,
``/v1/models``), as its SDKs parse them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from editserve.core.errors import EditserveError

# Our parameter names → the OpenAI form field a client sent them as (for error `param`s).
PARAM_NAMES = {
    "input_image": "image",
    "num_generations": "n",
    "aspect_ratio": "size",
    "width": "size",
    "height": "size",
    "output_quality": "output_compression",
    "output_format": "output_format",
    "prompt": "prompt",
    "model": "model",
}

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


class _ImageForm(BaseModel):
    """The fields both image calls of the OpenAI API share."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1)
    model: str | None = None
    n: int = Field(default=1, ge=1, le=4)
    size: str = "auto"
    response_format: Literal["url", "b64_json"] = "b64_json"
    output_format: Literal["png", "jpeg", "webp"] = "png"
    output_compression: int | None = Field(default=None, ge=0, le=100)
    quality: Literal["auto", "low", "medium", "high", "standard", "hd"] = "auto"
    background: Literal["auto", "opaque"] = "auto"
    user: str | None = None
    safety_identifier: str | None = None

    @field_validator("size")
    @classmethod
    def _size_shape(cls, value: str) -> str:
        return _checked_size(value)


class EditForm(_ImageForm):
    """The multipart fields of POST /v1/images/edits (files apart)."""

    input_fidelity: Literal["high", "low"] | None = None


class GenerateForm(_ImageForm):
    """The JSON body of POST /v1/images/generations."""

    moderation: Literal["auto", "low"] | None = None
    style: Literal["vivid", "natural"] | None = None


def _checked_size(value: str) -> str:
    if value != "auto" and not _is_wxh(value):
        raise ValueError("must be auto or WIDTHxHEIGHT, e.g. 1024x1024")
    return value


def _is_wxh(value: str) -> bool:
    width, x, height = value.partition("x")
    return bool(x) and width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0


class ImageData(BaseModel):
    url: str | None = Field(default=None, exclude_if=lambda v: v is None)
    b64_json: str | None = Field(default=None, exclude_if=lambda v: v is None)
    revised_prompt: str | None = None


class ImagesResponse(BaseModel):
    created: int
    data: list[ImageData]
    size: str
    output_format: str
    quality: str
    background: str


class OpenAIModel(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class OpenAIModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str


class OpenAIError(BaseModel):
    """Every error on the OpenAI-compatible paths (see openai_error_body)."""

    error: OpenAIErrorDetail


def openai_error_body(error: EditserveError) -> dict[str, Any]:
    """Our error in OpenAI's envelope: message, type, param, code."""
    field = error.detail.split(":", 1)[0] if ":" in error.detail else None
    param = None
    if field:
        base = field.split("[", 1)[0].split(".", 1)[0]
        param = PARAM_NAMES.get(base, base) if " " not in base else None
    error_type = _ERROR_TYPES.get(error.status_code, "server_error")
    return {
        "error": {
            "message": error.detail,
            "type": error_type,
            "param": param,
            "code": error.type,
        }
    }
