"""What checking an input image costs in memory, estimated before a byte of it is decoded.

The figures are measured (Pillow 13 on x86-64, peak resident set less the start, per
pixel): a PNG is checked as a stream (png.py) whatever its size; a baseline JPEG at 1/8
scale takes 0.26 bytes a pixel, a progressive one 3.3 (4:2:0) to 6.3 (4:4:4) for
libjpeg's coefficients; a WebP 16.5 (libwebp's canvas and frame, Pillow's copy and
image); a GIF 1.2; a BMP 4.3. Each estimate adds the file itself and ``BASE_COST`` for
what opening a header takes.

``estimate`` runs on the event loop and reads a few header bytes only (for a JPEG, at most
64 segments); ``image_cost`` runs where the check runs, on the header Pillow parsed, and
is the one a check holds to (an estimate that fell short is raised, see check.py).
"""

from __future__ import annotations

import struct

from PIL import Image

from editserve.inputs import jpeg, png, webp

MiB = 1 << 20
BASE_COST = 8 * MiB  # opening a header: Pillow's parse, zlib's and libjpeg's state
_PER_PIXEL = {"WEBP": 17, "GIF": 2, "BMP": 5}


def estimate(data: bytes, *, max_pixels: int) -> int:
    """Bytes the check of ``data`` will take, from its first header bytes."""
    base = len(data) + BASE_COST
    if data[:8] == png.SIGNATURE:
        return base + png.OUT_PIECE
    if data[:2] == jpeg.SOI:
        frame = jpeg.frame(data)
        if frame is None or frame.width * frame.height > max_pixels:
            return base  # refused (or measured) once the header is parsed
        return base + jpeg.check_cost(
            frame.width, frame.height, frame.sampling, multiscan=frame.progressive
        )
    size, fmt = _peek(data)
    if size is None or fmt is None or size[0] * size[1] > max_pixels:
        return base
    return base + size[0] * size[1] * _PER_PIXEL[fmt]


def image_cost(image: Image.Image, fmt: str, data: bytes) -> int:
    """Bytes the check takes for an image Pillow has opened (header only) from ``data``."""
    width, height = image.size
    base = len(data) + BASE_COST
    if fmt == "JPEG":
        layers = getattr(image, "layer", [])
        sampling = [(layer[1], layer[2]) for layer in layers]
        multiscan = jpeg.is_multiscan(data, "progressive" in image.info)
        return base + jpeg.check_cost(width, height, sampling, multiscan=multiscan)
    return base + width * height * _PER_PIXEL.get(fmt, 4)


def _peek(data: bytes) -> tuple[tuple[int, int] | None, str | None]:
    if webp.is_webp(data):
        return webp.peek_size(data), "WEBP"
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack_from("<HH", data, 6), "GIF"
    if data[:2] == b"BM" and len(data) >= 26:
        if int.from_bytes(data[14:18], "little") == 12:  # OS/2 1.x core header
            return struct.unpack_from("<HH", data, 18), "BMP"
        width, height = struct.unpack_from("<ii", data, 18)
        return (abs(width), abs(height)), "BMP"
    return None, None
