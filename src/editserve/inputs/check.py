"""One input's check, as it runs on a check thread: is it a whole image within the limits,
and what is stored of it (its metadata stripped unless ``keep_input_metadata``).

Stripping works on the bytes, never on pixels (png.py, jpeg.py, webp.py, gif.py): what is
stored decodes to the very pixels that were checked, upright as before (the orientation is
kept in a minimal EXIF where the metadata turned the image). A BMP holds no metadata.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from editserve.inputs import gif, jpeg, png, webp
from editserve.inputs.decode import Examined, ImageInfo, examine


@dataclass(frozen=True)
class CheckedImage:
    info: ImageInfo
    data: bytes  # what to store
    sha256: str  # of ``data``


def check_image(
    data: bytes, *, max_pixels: int, keep_metadata: bool, reserved: int | None = None
) -> CheckedImage:
    """Examine ``data`` (decode.examine: raises ImageDecodeError, or NeedsMemory over
    ``reserved``) and return what to store."""
    examined = examine(data, max_pixels=max_pixels, reserved=reserved)
    stored = data if keep_metadata else strip_metadata(data, examined)
    return CheckedImage(examined.info, stored, hashlib.sha256(stored).hexdigest())


def strip_metadata(data: bytes, examined: Examined) -> bytes:
    """``data`` without EXIF, XMP and text metadata (the same object if it had none)."""
    fmt = examined.info.format
    if fmt == "PNG" and examined.png is not None:
        return png.strip(data, examined.png)
    if fmt == "JPEG":
        return jpeg.strip(data, examined.orientation)
    if fmt == "WEBP":
        return webp.strip(data, examined.orientation)
    if fmt == "GIF":
        return gif.strip(data, examined.orientation)
    return data
