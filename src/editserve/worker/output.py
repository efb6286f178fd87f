"""What a worker makes of a result or a failure: encoded bytes, or a one-line message."""

from __future__ import annotations

import io
from typing import Any

FORMATS = {
    "png": ("PNG", "image/png", {}),
    "jpg": ("JPEG", "image/jpeg", {"quality": 95}),
    "webp": ("WEBP", "image/webp", {"quality": 95}),
}


def encode_image(image: Any, output_format: str) -> tuple[bytes, str]:
    """The image as ``output_format`` bytes and their media type."""
    pil_format, content_type, options = FORMATS[output_format]
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format=pil_format, **options)
    return buffer.getvalue(), content_type


def describe_failure(exc: BaseException) -> str:
    """A one-line error_message a user can act on (no stack trace)."""
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if "OutOfMemory" in name or "out of memory" in text.lower():
        return (
            "out of memory while generating; try fewer/smaller input images, "
            "`preview: true`, or a memory-saving mode on this server"
        )
    message = f"{name}: {text}" if text else name
    return message[:500]
