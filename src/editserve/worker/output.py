"""What a worker makes of a result or a failure: encoded bytes, or a one-line message.

Encoder settings (bench/ measures them against Pillow's defaults, with PSNR):

- **PNG** at zlib level 1: lossless all the same; a few % more bytes for much less time
  than Pillow's level 6.
- **JPEG** at quality 95 (Pillow's default is 75): libjpeg-turbo is already as fast as
  JPEG gets; we spend its few milliseconds on quality.
- **WebP** at quality 90, method 0 (Pillow's default: quality 80, method 4): the fastest
  method, at a quality above the default's.
"""

from __future__ import annotations

import errno
import io
from typing import Any

from editserve.models.base import JobRefused

FORMATS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "png": ("PNG", "image/png", {"compress_level": 1}),
    "jpg": ("JPEG", "image/jpeg", {"quality": 95}),
    "webp": ("WEBP", "image/webp", {"quality": 90, "method": 0}),
}


def encode_image(image: Any, output_format: str, quality: int | None = None) -> tuple[bytes, str]:
    """The image as ``output_format`` bytes and their media type.

    `quality` (1-100, the request's ``output_quality``) sets jpg and webp quality; None
    keeps the format's default above; png is lossless and ignores it.
    """
    pil_format, content_type, options = FORMATS[output_format]
    if quality is not None and "quality" in options:
        options = {**options, "quality": max(1, min(100, int(quality)))}
    buffer = io.BytesIO()
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    rgb.save(buffer, format=pil_format, **options)
    return buffer.getvalue(), content_type


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
