"""A masked edit's ``mask``, read the way callers draw one, stored the one way.

Two encodings are read (no torch, no numpy: Pillow only, on API nodes too):

* an image with an alpha channel that is not opaque everywhere: **transparent = edit**
  (OpenAI's rule for ``images.edit(mask=...)``): a pixel whose alpha is below 50% is edited;
* any other image (grayscale, RGB, or RGBA opaque everywhere): **white = edit**: a pixel
  whose luminance is at least 50% is edited.

The mask is read upright (its EXIF orientation applied, as the pictures are) and must have
Picture 1's upright size. A mask that marks no pixel or every pixel is refused. What is
stored (:func:`canonical_mask`) is the binary mask as an 8-bit grayscale PNG: 255 = edit,
0 = keep, whatever encoding was sent. Every refusal is an InvalidParams naming ``mask``.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from editserve.core.errors import InvalidParams
from editserve.inputs.decode import PILLOW_FORMATS
from editserve.inputs.edits import ORIENTATION_TAG

FIELD = "mask"
# 50% of 8 bits: luminance >= HALF is white (edit); alpha < HALF is transparent (edit).
HALF = 128
EDIT, KEEP = 255, 0
# Orientations that turn the picture by 90 degrees (width and height swap).
_TURNED = (5, 6, 7, 8)
_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")


def upright_size(data: bytes) -> tuple[int, int]:
    """The (width, height) of an image as decoded for the model: EXIF orientation applied
    (read from the header only)."""
    with Image.open(io.BytesIO(data), formats=list(PILLOW_FORMATS)) as image:
        width, height = image.size
        try:
            orientation = image.getexif().get(ORIENTATION_TAG)
        except Exception:  # malformed EXIF: decoding turns nothing either
            orientation = None
    return (height, width) if orientation in _TURNED else (width, height)


def canonical_mask(data: bytes, picture_size: tuple[int, int]) -> bytes:
    """The mask in ``data`` (already checked as an image) as a binary grayscale PNG of
    ``picture_size`` (Picture 1's upright size); InvalidParams naming ``mask`` otherwise."""
    edit = read_mask(data)
    if edit.size != picture_size:
        raise InvalidParams(
            f"{FIELD}: must have the size of Picture 1 (input_image[0]: "
            f"{picture_size[0]}x{picture_size[1]}); got {edit.size[0]}x{edit.size[1]}"
        )
    low, high = edit.getextrema()
    if high == KEEP:
        raise InvalidParams(
            f"{FIELD}: marks nothing to edit: no pixel is transparent (a mask with alpha) or "
            "white (a grayscale/RGB mask); mark the region to change"
        )
    if low == EDIT:
        raise InvalidParams(
            f"{FIELD}: marks the whole picture: every pixel is transparent (a mask with "
            "alpha) or white (a grayscale/RGB mask); leave the region to keep, or edit "
            "without a mask"
        )
    buffer = io.BytesIO()
    edit.save(buffer, format="PNG")
    return buffer.getvalue()


def read_mask(data: bytes) -> Image.Image:
    """The binary edit mask of ``data``: mode "L", 255 = edit, 0 = keep, upright."""
    try:
        with Image.open(io.BytesIO(data), formats=list(PILLOW_FORMATS)) as image:
            image.seek(0)
            image.load()
            upright = ImageOps.exif_transpose(image)
    except Exception as exc:  # checked before: only a decoder's surprise lands here
        raise InvalidParams(f"{FIELD}: cannot decode the mask ({exc})") from None
    alpha = _alpha(upright)
    if alpha is not None:
        return alpha.point(lambda value: EDIT if value < HALF else KEEP)
    return _luminance(upright).point(lambda value: EDIT if value >= HALF else KEEP)


def _alpha(image: Image.Image) -> Image.Image | None:
    """The alpha channel, where the image has one that is not opaque everywhere."""
    if image.mode not in _ALPHA_MODES and "transparency" not in image.info:
        return None
    alpha = image.convert("RGBA").getchannel("A")
    return alpha if alpha.getextrema() != (255, 255) else None


def _luminance(image: Image.Image) -> Image.Image:
    """8-bit luminance (16-bit grayscale scaled, not clipped)."""
    if image.mode.startswith("I"):
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode in ("RGBA", "LA", "PA", "P"):
        image = image.convert("RGBA").convert("RGB")
    return image.convert("L")
