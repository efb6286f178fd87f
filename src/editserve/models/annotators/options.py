"""Each annotator's options: a pydantic model with ranges and defaults, tagged by ``type``.

``parse_options({"type": "canny", "low_threshold": 50})`` gives a ``CannyOptions``; an
unknown type, an unknown option or a value out of range is pydantic's ValidationError,
whose location names the option (the services word it as ``control.low_threshold: …``).
No torch, no OpenCV: API nodes validate a request with these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

AnnotatorType = Literal["canny", "lineart", "scribble", "gray", "depth", "pose"]


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CannyOptions(_Options):
    """Canny edges (OpenCV): white edges on black."""

    type: Literal["canny"] = "canny"
    low_threshold: int = Field(
        default=100, ge=0, le=255, description="gradient below this is never an edge"
    )
    high_threshold: int = Field(
        default=200, ge=0, le=255, description="gradient above this is always an edge"
    )

    @model_validator(mode="after")
    def _ordered(self) -> CannyOptions:
        if self.low_threshold > self.high_threshold:
            raise ValueError(
                f"low_threshold ({self.low_threshold}) must not exceed high_threshold "
                f"({self.high_threshold})"
            )
        return self


class LineartOptions(_Options):
    """Line art, a classical approximation (OpenCV adaptive threshold): white lines on black."""

    type: Literal["lineart"] = "lineart"
    block_size: int = Field(
        default=11,
        ge=3,
        le=51,
        description="odd neighbourhood width in pixels a line is compared with",
    )
    offset: int = Field(
        default=6,
        ge=0,
        le=64,
        description="how much darker than its neighbourhood a pixel must be to be a line",
    )

    @model_validator(mode="after")
    def _odd(self) -> LineartOptions:
        if self.block_size % 2 == 0:
            raise ValueError(f"block_size must be odd (got {self.block_size})")
        return self


class ScribbleOptions(_Options):
    """Scribble: thick, simplified edges (OpenCV: blur, Canny, dilation)."""

    type: Literal["scribble"] = "scribble"
    thickness: int = Field(default=5, ge=1, le=31, description="stroke width in pixels")


class GrayOptions(_Options):
    """Grayscale (luma), as three equal channels."""

    type: Literal["gray"] = "gray"


class DepthOptions(_Options):
    """Relative depth (Depth-Anything-V2-Small): near is bright, far is dark."""

    type: Literal["depth"] = "depth"


class PoseOptions(_Options):
    """Body pose: people found by a detector, their keypoints drawn as the OpenPose skeleton."""

    type: Literal["pose"] = "pose"
    detection_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="a person box needs at least this score"
    )
    keypoint_threshold: float = Field(
        default=0.3, ge=0.0, le=1.0, description="a keypoint is drawn from this score up"
    )
    max_people: int = Field(default=10, ge=1, le=50, description="the highest-scoring people")


AnnotatorOptions = (
    CannyOptions | LineartOptions | ScribbleOptions | GrayOptions | DepthOptions | PoseOptions
)
OPTIONS_BY_TYPE: dict[str, type[_Options]] = {
    "canny": CannyOptions,
    "lineart": LineartOptions,
    "scribble": ScribbleOptions,
    "gray": GrayOptions,
    "depth": DepthOptions,
    "pose": PoseOptions,
}

_ADAPTER: TypeAdapter[AnnotatorOptions] = TypeAdapter(
    Annotated[AnnotatorOptions, Field(discriminator="type")]
)


def parse_options(raw: Mapping[str, Any]) -> AnnotatorOptions:
    """The options of ``raw["type"]`` (defaults filled in). Raises pydantic's
    ValidationError naming the option (or ``type``) and the rule."""
    return _ADAPTER.validate_python(dict(raw))


def canonical(options: AnnotatorOptions) -> dict[str, Any]:
    """Every option with its value, defaults included (what a cache key hashes)."""
    return options.model_dump(mode="json")


__all__ = [
    "OPTIONS_BY_TYPE",
    "AnnotatorOptions",
    "AnnotatorType",
    "CannyOptions",
    "DepthOptions",
    "GrayOptions",
    "LineartOptions",
    "PoseOptions",
    "ScribbleOptions",
    "canonical",
    "parse_options",
]
