"""Input images as callers give them (paths, bytes, PIL images, URLs) and as the wire wants
them (an http(s) URL, an upload URL or a ``data:image/...;base64,`` URI)."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Union

from editserve.client._types import Upload, content_type_for, sniff_format

if TYPE_CHECKING:
    import PIL.Image

ImageInput = Union[  # noqa: UP007 - a runtime alias, readable in docs
    str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], "PIL.Image.Image", Upload
]
"""What may be passed as an input image: a URL (http(s), data: or upload URL), a local
file path, the image's bytes, a binary file object, a PIL image, or an :class:`Upload`."""

_URL_PREFIXES = ("http://", "https://", "data:")


@dataclass(frozen=True)
class LocalImage:
    """Image bytes that still have to be uploaded or inlined."""

    data: bytes
    filename: str
    format: str

    @property
    def content_type(self) -> str:
        return content_type_for(self.format)

    def data_uri(self) -> str:
        return f"data:{self.content_type};base64,{base64.b64encode(self.data).decode()}"


def as_list(value: ImageInput | Sequence[ImageInput]) -> list[ImageInput]:
    """One input or several: strings and bytes count as one, lists and tuples as several."""
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]  # type: ignore[list-item]


def is_url(value: str) -> bool:
    return value[:8].lower().startswith(_URL_PREFIXES)


def _is_pil_image(value: Any) -> bool:
    return any(
        cls.__module__.startswith("PIL.") and cls.__name__ == "Image" for cls in type(value).__mro__
    )


def _pil_to_bytes(image: PIL.Image.Image) -> bytes:
    buffer = io.BytesIO()
    to_save = image
    if image.mode not in ("RGB", "RGBA", "L", "LA", "P", "I;16", "1"):
        to_save = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    to_save.save(buffer, format="PNG")
    return buffer.getvalue()


def classify(value: ImageInput, index: int = 0) -> str | LocalImage:
    """A wire-ready reference (``str``) or local bytes to upload (:class:`LocalImage`)."""
    label = f"input_image[{index}]"
    filename = f"image-{index}"
    if isinstance(value, Upload):
        return value.url
    if isinstance(value, str) and is_url(value):
        return value
    if isinstance(value, (str, os.PathLike)):
        path = Path(value).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"{label}: {str(value)!r} is neither an http(s)/data: URL nor an existing file"
            )
        data = path.read_bytes()
        filename = path.name
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    elif _is_pil_image(value):
        data = _pil_to_bytes(value)  # type: ignore[arg-type]
        filename += ".png"
    elif hasattr(value, "read"):
        data = value.read()
        if not isinstance(data, bytes):
            raise TypeError(f"{label}: the file object must be opened in binary mode")
        filename = Path(str(getattr(value, "name", filename))).name
    else:
        raise TypeError(
            f"{label}: expected a URL, a path, bytes, a binary file or a PIL image, "
            f"not {type(value).__name__}"
        )
    fmt = sniff_format(data)
    if fmt is None:
        raise ValueError(f"{label}: not a PNG, JPEG, WebP, GIF or BMP image ({filename})")
    return LocalImage(data=data, filename=filename, format=fmt)
