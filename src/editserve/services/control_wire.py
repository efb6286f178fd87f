"""The control maps' shapes on the wire (kept beside services/wire.py, which is full):
the generation view's ``control_map_url`` and the answer of
``POST /api/ai/images/control-map``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from editserve.blobs.links import UrlFor
from editserve.domain.record import Generation

CONTROL_MAP_URL_DOC = (
    "The control map the model was given as its last picture (the `control` field), a "
    "lasting link; absent without one (an extension field)."
)


def control_map_url(gen: Generation, url_for: UrlFor) -> str | None:
    """The lasting link of the map a generation used (its receipt names it), else None."""
    key = (gen.receipt or {}).get("control_map")
    return url_for(key) if isinstance(key, str) and key else None


# The request body of POST /api/ai/images/control-map, for /openapi.json (the options of
# each type, their ranges and defaults: docs/api.md and the model cards' ``control``).
CONTROL_MAP_REQUEST_SCHEMA: dict[str, Any] = {
    "title": "ControlMapRequest",
    "type": "object",
    "required": ["type", "image"],
    "properties": {
        "type": {"enum": ["canny", "lineart", "scribble", "gray", "depth", "pose"]},
        "image": {"type": "string", "description": "A URL, data URI or upload URL."},
        "model": {
            "type": "string",
            "description": "Whose workers compute it (default: the first served edit model).",
        },
    },
    "additionalProperties": {"description": "The type's options (docs/api.md)."},
}


class ControlMapResponse(BaseModel):
    """POST /api/ai/images/control-map: the map, a lasting link (an extension)."""

    url: str = Field(description="The map as a PNG: a lasting link, usable as an input.")
    type: str = Field(description="The annotator: canny, lineart, scribble, gray, depth, pose.")
    width: int
    height: int
    options: dict[str, Any] = Field(description="Every option with its value, defaults included.")
    cached: bool = Field(description="true: the same picture and settings were computed before.")
    generation_id: str | None = Field(
        default=None, description="The job that computed it (absent when it was stored already)."
    )


__all__ = [
    "CONTROL_MAP_REQUEST_SCHEMA",
    "CONTROL_MAP_URL_DOC",
    "ControlMapResponse",
    "control_map_url",
]
