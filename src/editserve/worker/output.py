"""What a worker makes of a result or a failure: encoded bytes, or a one-line message.

Encoder settings (bench/ measures them against Pillow's defaults, with PSNR):

- **PNG**: our own writer (``_png``, numpy and zlib): each row gets the None, Sub or Up
  filter that leaves the smallest bytes (Pillow's heuristic, without Paeth, which costs
  more in numpy than it saves), then zlib at level 1. Lossless; ~5x faster than Pillow's
  default (level 6) and ~2x faster than Pillow at level 1, whose remaining time is its
  per-row filter trials in C, which no option turns off; within ~2% of Pillow's level-1
  size on photos, text and flat graphics. (Pillow's faster zlib strategies are not safe
  bets: ``Z_RLE`` grew text 4x and a tiled pattern 100x, ``Z_HUFFMAN_ONLY`` flat graphics
  20x.) Without numpy, or for an image with an ICC profile or a transparent colour,
  Pillow writes it at level 1. A layered model's RGBA layers are written as 8-bit RGBA
  (``keep_alpha``), their transparency kept; everything else is written as RGB.
- **JPEG** at quality 95 (Pillow's default is 75): libjpeg-turbo is already as fast as
  JPEG gets, whatever the settings; we spend its few milliseconds on quality.
- **WebP** at method 0, the fastest (Pillow's default: quality 80, method 4), at the
  request's ``output_quality`` (default 95, as for JPEG): ~2x faster than Pillow's
  default at +2.7 dB PSNR; at quality 85, which already beats the default's PSNR (bench
  photo: 37.5 against 36.6 dB), ~3x faster.
"""

from __future__ import annotations

import errno
import io
import struct
import zlib
from typing import Any

from editserve.models.base import JobRefused

# The Pillow settings (PNG: where our writer does not apply).
FORMATS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "png": ("PNG", "image/png", {"compress_level": 1}),
    "jpg": ("JPEG", "image/jpeg", {"quality": 95}),
    "webp": ("WEBP", "image/webp", {"quality": 95, "method": 0}),
}
PNG_LEVEL = 1  # zlib level of our PNG writer


def encode_image(
    image: Any, output_format: str, quality: int | None = None, *, keep_alpha: bool = False
) -> tuple[bytes, str]:
    """The image as ``output_format`` bytes and their media type.

    `quality` (1-100, the request's ``output_quality``) sets jpg and webp quality; None
    keeps the format's default above; png is lossless and ignores it. With `keep_alpha` (a
    layered model's layers) an RGBA image stays RGBA in png, its transparency kept;
    everything else is written as RGB.
    """
    pil_format, content_type, options = FORMATS[output_format]
    if quality is not None and "quality" in options:
        options = {**options, "quality": max(1, min(100, int(quality)))}
    rgba = keep_alpha and output_format == "png" and image.mode == "RGBA"
    mode = "RGBA" if rgba else "RGB"
    pixels = image if image.mode == mode else image.convert(mode)
    if output_format == "png" and (data := _png(pixels)) is not None:
        return data, content_type
    buffer = io.BytesIO()
    pixels.save(buffer, format=pil_format, **options)
    return buffer.getvalue(), content_type


# PNG colour types by mode, and their bytes per pixel.
_PNG_COLOUR = {"RGB": (2, 3), "RGBA": (6, 4)}


def _png(image: Any) -> bytes | None:
    """``image`` (RGB or RGBA) as a PNG file: 8 bits a channel, no interlacing, no other
    chunks; None where Pillow must write it (no numpy; an ICC profile or transparent
    colour to keep)."""
    if image.info.get("icc_profile") or "transparency" in image.info:
        return None
    try:
        import numpy
    except ImportError:
        return None
    width, height = image.size
    colour, channels = _PNG_COLOUR[image.mode]
    flat = numpy.asarray(image).reshape(height, width * channels)
    rows = _filtered_rows(flat, numpy, channels)
    compressor = zlib.compressobj(PNG_LEVEL)
    idat = compressor.compress(rows) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    chunks = ((b"IHDR", header), (b"IDAT", idat), (b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(_png_chunk(kind, body) for kind, body in chunks)


def _filtered_rows(rows: Any, np: Any, channels: int = 3) -> Any:
    """PNG's filtered scanlines of ``rows`` ((height, width * channels) uint8): a filter
    type byte and the row, each with the filter (0 None, 1 Sub, 2 Up) whose bytes, read as
    signed, are smallest in absolute sum."""
    sub = rows.copy()
    sub[:, channels:] -= rows[:, :-channels]  # uint8 arithmetic wraps modulo 256, as PNG's
    up = rows.copy()
    up[1:] -= rows[:-1]
    candidates = (rows, sub, up)
    costs = [np.abs(c.view(np.int8), dtype=np.int16).sum(axis=1) for c in candidates]
    choice = np.argmin(np.stack(costs), axis=0)
    out = np.empty((rows.shape[0], rows.shape[1] + 1), np.uint8)
    out[:, 0] = choice
    out[:, 1:] = np.where((choice == 1)[:, None], sub, np.where((choice == 2)[:, None], up, rows))
    return out


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(body, zlib.crc32(kind))
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def describe_failure(exc: BaseException, stage: str | None = None) -> str:
    """The error_message a caller sees, worded by the kind of failure, never the
    exception's own text (library messages, paths and stack traces go to the log with
    the generation id; see worker/batch.py). `stage` says what was going on, e.g.
    "generating" or "storing the result"."""
    if isinstance(exc, JobRefused):  # worded for the caller by the model (e.g. a bad LoRA)
        return str(exc)
    during = f" while {stage}" if stage else ""
    name = type(exc).__name__
    text = str(exc)
    if "OutOfMemory" in name or isinstance(exc, MemoryError) or "out of memory" in text.lower():
        if stage not in (None, "generating"):  # e.g. "loading the model": the operator's to fix
            return (
                f"out of memory{during}; use a memory-saving mode (EDITSERVE_MEMORY_MODE) "
                "or FP8 weights (EDITSERVE_QUANTIZATION) on this server"
            )
        return (
            "out of memory while generating; try fewer/smaller input images, "
            "`preview: true`, or a memory-saving mode on this server"
        )
    module = type(exc).__module__.split(".")[0]
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the server ran out of disk space{during}; try again later"
    if module == "PIL":
        return f"an input image could not be decoded{during}; try another copy of it"
    if isinstance(exc, OSError) or module in _STORAGE_MODULES:
        return f"the server's file storage failed{during}; try again later"
    if any(marker in text for marker in _GPU_MARKERS):
        return f"the GPU reported an error{during}; try again"
    if isinstance(exc, (ValueError, TypeError, IndexError, KeyError)):
        return (
            f"the model could not process this request{during}: its inputs or parameters "
            "passed the checks at enqueue but the pipeline refused them; the server log "
            "has the details"
        )
    return f"an internal error occurred{during}; the server log has the details"


# Exceptions of these packages are storage failures (S3 and its transfer manager).
_STORAGE_MODULES = frozenset({"botocore", "boto3", "s3transfer"})
# Text of the exceptions torch raises for a failing GPU.
_GPU_MARKERS = ("CUDA error", "CUDA driver", "cuDNN", "CUBLAS", "cuBLAS", "device-side assert")
