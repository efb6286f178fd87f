"""Byte-level edits shared by the format modules (png.py, jpeg.py, webp.py): cutting
ranges out of a file and putting bytes in, the EXIF orientation that decoding applies, and
the smallest EXIF that keeps it.

Metadata is stripped without touching a pixel: chunks and segments are dropped whole, so a
stored input decodes to exactly the pixels its upload did. The one thing of the metadata a
decode uses is the orientation (``load_rgb`` applies it with Pillow's ``exif_transpose``,
which reads the EXIF tag, else XMP's ``tiff:Orientation``); where it turns the image, the
stripped file gets a minimal EXIF holding that tag alone.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence

from PIL import Image

ORIENTATION_TAG = 0x0112
EXIF_PREFIX = b"Exif\x00\x00"  # before the TIFF data in a JPEG APP1 segment
_XMP_ORIENTATION = re.compile(rb'tiff:Orientation(="|>)([0-9])')


def orientation_of(exif: bytes | None, xmp: bytes | None) -> int:
    """The orientation Pillow applies for this EXIF (TIFF data, with or without the
    ``Exif\\0\\0`` prefix) and XMP: the EXIF tag, else XMP's; 1 when it turns nothing."""
    value: object = None
    if exif:
        try:
            tags = Image.Exif()
            tags.load(exif)
            value = tags.get(ORIENTATION_TAG)
        except Exception:  # malformed EXIF: a decode would not turn the image either
            value = None
    if value is None and xmp:
        match = _XMP_ORIENTATION.search(xmp)
        value = int(match[2]) if match else None
    return value if isinstance(value, int) and 2 <= value <= 8 else 1


def minimal_exif(orientation: int) -> bytes:
    """TIFF data (no ``Exif\\0\\0`` prefix) with one tag: the orientation."""
    return (
        b"MM\x00\x2a\x00\x00\x00\x08"  # big-endian TIFF header, IFD0 at offset 8
        + struct.pack(">HHHIHH", 1, ORIENTATION_TAG, 3, 1, orientation, 0)  # one SHORT
        + b"\x00\x00\x00\x00"  # no next IFD
    )


def splice(data: bytes, edits: Sequence[tuple[int, int, bytes]], end: int | None = None) -> bytes:
    """``data[:end]`` with each ``(start, stop, replacement)`` range replaced (ranges in
    order, not overlapping; ``start == stop`` inserts)."""
    view = memoryview(data)
    parts: list[bytes | memoryview] = []
    position = 0
    for start, stop, replacement in sorted(edits, key=lambda edit: (edit[0], edit[1])):
        parts.append(view[position:start])
        parts.append(replacement)
        position = stop
    parts.append(view[position : len(data) if end is None else end])
    return b"".join(parts)
