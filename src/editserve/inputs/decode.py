"""Inspecting and decoding untrusted input images.

Only PNG, JPEG, WebP, GIF and BMP are opened (Pillow is told to try no other plugin, which
keeps its less-travelled parsers away from untrusted bytes). The pixel limit is checked on
the header's size *before* any pixel is decoded, so a tiny file announcing a huge canvas
(a decompression bomb) costs nothing; then the first frame is fully decoded, which catches
truncated and corrupt files at enqueue time rather than in the worker.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow format name → (our format name, extension, content type). MPO is what Pillow calls
# the multi-picture JPEGs many cameras and phones write: it is a JPEG.
_FORMATS: dict[str, tuple[str, str, str]] = {
    "PNG": ("PNG", "png", "image/png"),
    "JPEG": ("JPEG", "jpg", "image/jpeg"),
    "MPO": ("JPEG", "jpg", "image/jpeg"),
    "WEBP": ("WEBP", "webp", "image/webp"),
    "GIF": ("GIF", "gif", "image/gif"),
    "BMP": ("BMP", "bmp", "image/bmp"),
}
# What Pillow is allowed to try (its JPEG opener returns MPO files by itself).
PILLOW_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
SUPPORTED = "PNG, JPEG, WebP, GIF or BMP"


class ImageDecodeError(ValueError):
    """The bytes are not an acceptable image; the message says why, for a human."""


@dataclass(frozen=True)
class ImageInfo:
    format: str  # PNG | JPEG | WEBP | GIF | BMP
    width: int
    height: int

    @property
    def extension(self) -> str:
        return _FORMATS[self.format][1]

    @property
    def content_type(self) -> str:
        return _FORMATS[self.format][2]


def inspect_image(data: bytes, *, max_pixels: int) -> ImageInfo:
    """Check that ``data`` is a whole, supported image of at most ``max_pixels`` pixels.

    Raises :class:`ImageDecodeError` for an unsupported format, a size over the limit
    (decided from the header, before decoding), or truncated / corrupt data.
    """
    if not data:
        raise ImageDecodeError("empty file; expected a PNG, JPEG, WebP, GIF or BMP image")
    image = _open(data, max_pixels)
    with image:
        fmt = _FORMATS[str(image.format)][0]
        width, height = image.size
        _check_size(width, height, max_pixels)
        try:
            image.load()  # the first frame, in full
        except Exception as exc:  # Pillow raises many types on corrupt data
            raise ImageDecodeError(f"corrupt or truncated {fmt} image ({_reason(exc)})") from None
        # A frame must not decode larger than the header claimed.
        _check_size(*image.size, max_pixels)
    return ImageInfo(format=fmt, width=width, height=height)


def load_rgb(data: bytes) -> Image.Image:
    """Decode ``data`` for the model: first frame, EXIF orientation applied, 8-bit RGB.

    Transparency (RGBA, LA, PA, P/L with a transparent colour) is composited on white;
    grey, palette, CMYK and 16-bit images are converted to RGB.
    """
    image = _open(data, None)
    with image:
        try:
            image.seek(0)
            image.load()
            upright = ImageOps.exif_transpose(image)
            return _to_rgb(upright)
        except ImageDecodeError:
            raise
        except Exception as exc:
            raise ImageDecodeError(f"cannot decode image ({_reason(exc)})") from None


def _open(data: bytes, max_pixels: int | None) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # We enforce our own pixel limit; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(PILLOW_FORMATS))
    except Image.DecompressionBombError as exc:
        # Pillow's own, higher threshold: its message gives the size.
        limit = f" of {max_pixels} pixels (max_input_pixels)" if max_pixels else ""
        raise ImageDecodeError(
            f"image dimensions are over the limit{limit}; decompression bomb refused "
            f"({_reason(exc)})"
        ) from None
    except UnidentifiedImageError:
        raise ImageDecodeError(f"not a supported image; expected {SUPPORTED}") from None
    except Exception as exc:
        raise ImageDecodeError(f"corrupt image header ({_reason(exc)})") from None
    if image.format not in _FORMATS:  # pragma: no cover - formats= guarantees it
        image.close()
        raise ImageDecodeError(f"unsupported format {image.format}; expected {SUPPORTED}")
    return image


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f"image has an empty size ({width}x{height})")
    if width * height > max_pixels:
        raise ImageDecodeError(
            f"image is {width}x{height} = {width * height} pixels, over the limit of "
            f"{max_pixels} pixels (max_input_pixels)"
        )


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image.copy()
    if mode.startswith("I"):
        # Only 16-bit grey PNGs decode to these modes: scale to 8 bits instead of letting
        # convert() clip everything above 255 to white.
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
        return image.convert("RGB")
    has_alpha = mode in ("LA", "PA", "La", "RGBa") or "transparency" in image.info
    if mode == "P" or has_alpha:
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]
