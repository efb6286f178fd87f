"""Inspecting and decoding untrusted input images.

Only PNG, JPEG, WebP, GIF and BMP are opened (Pillow is told to try no other plugin, which
keeps its less-travelled parsers away from untrusted bytes). The pixel limit is checked on
the header's size *before* any pixel is decoded, so a tiny file announcing a huge canvas
(a decompression bomb) costs nothing. Then the file is checked whole, so that truncated
and corrupt files are refused at enqueue time rather than in the worker, at a cost that
does not follow the pixel count where that can be avoided: a PNG is checked as a stream
without being decoded into an image (inputs/png.py: chunks, CRCs, every row of the
inflated data); a JPEG is decoded at 1/8 scale (libjpeg still reads every scan, so
truncation and corruption are still caught, at a fraction of the work and memory); a
WebP, GIF or BMP is decoded (its first frame), with the memory that takes held in the
process's input budget (inputs/budget.py, inputs/cost.py).

Speed (bench/ measures it against plain Pillow, with PSNR): ``load_rgb(max_area=...)``
decodes a JPEG at the smallest DCT scale that still covers the area the model will use,
then shrinks with ``resize_rgb`` (inputs/resize.py: torch's uint8 antialiased bicubic where
torch is installed, Pillow's bicubic otherwise). The decoded pixels are not copied before
the resize (EXIF turns happen in place, an RGB image is used as decoded, torch reads
Pillow's memory in place). ``load_rgb_many`` decodes several inputs at once on threads
(Pillow's decoders and torch's resize release the GIL).
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from editserve.inputs import png
from editserve.inputs.cost import image_cost
from editserve.inputs.edits import ORIENTATION_TAG
from editserve.inputs.resize import resize_rgb

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


class NeedsMemory(Exception):
    """Opening the header showed that the check takes more than was reserved for it."""

    def __init__(self, cost: int) -> None:
        super().__init__(f"the check takes {cost} bytes")
        self.cost = cost


@dataclass(frozen=True)
class Examined:
    """A checked image: what it is, the EXIF orientation a decode applies (1: none), and
    for a PNG where its metadata is."""

    info: ImageInfo
    orientation: int = 1
    png: png.PngLayout | None = None


def inspect_image(data: bytes, *, max_pixels: int) -> ImageInfo:
    """Check that ``data`` is a whole, supported image of at most ``max_pixels`` pixels.

    Raises :class:`ImageDecodeError` for an unsupported format, a size over the limit
    (decided from the header, before decoding), or truncated / corrupt data.
    """
    return examine(data, max_pixels=max_pixels).info


def examine(data: bytes, *, max_pixels: int, reserved: int | None = None) -> Examined:
    """:func:`inspect_image`, and what stripping the metadata needs. With ``reserved``
    (bytes held for this check), raises :class:`NeedsMemory` before decoding anything if
    the header shows that the check takes more (inputs/cost.py)."""
    if not data:
        raise ImageDecodeError("empty file; expected a PNG, JPEG, WebP, GIF or BMP image")
    if data.startswith(png.SIGNATURE):
        return _examine_png(data, max_pixels)
    image = _open(data, max_pixels)
    with image:
        fmt = _FORMATS[str(image.format)][0]
        width, height = image.size
        _check_size(width, height, max_pixels)
        cost = image_cost(image, fmt, data)
        if reserved is not None and cost > reserved:
            raise NeedsMemory(cost)
        orientation = _orientation(image)
        if fmt == "JPEG":  # every scan is still read; the inverse DCT runs at 1/8 scale
            image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
        try:
            image.load()  # the first frame, in full
        except Exception as exc:  # Pillow raises many types on corrupt data
            raise ImageDecodeError(f"corrupt or truncated {fmt} image ({_reason(exc)})") from None
        # A frame must not decode larger than the header claimed.
        if fmt != "JPEG":
            _check_size(*image.size, max_pixels)
    return Examined(ImageInfo(format=fmt, width=width, height=height), orientation)


def _examine_png(data: bytes, max_pixels: int) -> Examined:
    try:
        header = png.read_header(data)
    except png.PngError as exc:
        raise ImageDecodeError(f"corrupt or truncated PNG image ({exc})") from None
    _check_size(header.width, header.height, max_pixels)
    try:
        layout = png.verify(data, header)
    except png.PngError as exc:
        raise ImageDecodeError(f"corrupt or truncated PNG image ({exc})") from None
    info = ImageInfo(format="PNG", width=header.width, height=header.height)
    return Examined(info, layout.orientation(), layout)


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation ``exif_transpose`` will apply (read from the header)."""
    try:
        value = image.getexif().get(ORIENTATION_TAG)
    except Exception:  # malformed EXIF
        return 1
    return value if isinstance(value, int) and 2 <= value <= 8 else 1


def fit_area(size: tuple[int, int], max_area: int) -> tuple[int, int]:
    """``size`` shrunk, keeping its aspect ratio, to at most about ``max_area`` pixels
    (never enlarged; each side at least 1)."""
    width, height = size
    if width * height <= max_area:
        return width, height
    scale = math.sqrt(max_area / (width * height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def load_rgb(data: bytes, *, max_area: int | None = None) -> Image.Image:
    """Decode ``data`` for the model: first frame, EXIF orientation applied, 8-bit RGB.

    Transparency (RGBA, LA, PA, P/L with a transparent colour) is composited on white;
    grey, palette, CMYK and 16-bit images are converted to RGB. With ``max_area``, an
    image larger than that is shrunk to it (``fit_area``): a JPEG is decoded at a reduced
    DCT scale that still covers the area, and the resize is ``resize_rgb``'s.
    """
    image = _open(data, None)
    with image:
        try:
            image.seek(0)
            target = fit_area(image.size, max_area) if max_area is not None else None
            if target is not None and image.format in ("JPEG", "MPO"):
                # the smallest DCT scale (1/1, 1/2, 1/4, 1/8) still covering the target
                image.draft("RGB", target)
            image.load()
            decoded = image.size
            ImageOps.exif_transpose(image, in_place=True)
            rgb = _to_rgb(image)  # ``image`` itself when it is already RGB
        except ImageDecodeError:
            raise
        except Exception as exc:
            raise ImageDecodeError(f"cannot decode image ({_reason(exc)})") from None
    if target is not None and image.size != decoded:  # EXIF turned it by 90 degrees
        target = (target[1], target[0])
    if target is None or rgb.size == target:
        return rgb.copy() if rgb is image else rgb  # a plain Image, not the file's
    return resize_rgb(rgb, target)


def load_rgb_many(items: Sequence[bytes], *, max_area: int | None = None) -> list[Image.Image]:
    """``load_rgb`` of each item, decoded at once on threads (one per item)."""
    if len(items) <= 1:
        return [load_rgb(data, max_area=max_area) for data in items]
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(lambda data: load_rgb(data, max_area=max_area), items))


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
    if width * height > 2 * (Image.MAX_IMAGE_PIXELS or width * height):
        raise ImageDecodeError(  # where Pillow's own open would refuse too
            f"image dimensions are over the limit of {max_pixels} pixels "
            f"(max_input_pixels); decompression bomb refused ({width}x{height})"
        )
    if width * height > max_pixels:
        raise ImageDecodeError(
            f"image is {width}x{height} = {width * height} pixels, over the limit of "
            f"{max_pixels} pixels (max_input_pixels)"
        )


def _to_rgb(image: Image.Image) -> Image.Image:
    """``image`` in 8-bit RGB: itself when it already is (no copy), else a new image."""
    mode = image.mode
    if mode == "RGB":
        return image
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
