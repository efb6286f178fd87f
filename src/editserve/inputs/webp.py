"""WebP at the byte level: the canvas size its header announces, and stripping its
metadata (the EXIF and XMP chunks, unknown chunks, bytes past the RIFF container).

Only the extended format (a VP8X chunk first) can carry metadata; its flags are kept in
step with what is left. Where EXIF turned the image, a minimal EXIF chunk keeps the
orientation.
"""

from __future__ import annotations

import struct

from editserve.inputs.edits import minimal_exif

# What a decode reads; everything else (EXIF, "XMP ", unknown chunks) is dropped.
_KEEP = frozenset({b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"})
_EXIF_FLAG, _XMP_FLAG = 0x08, 0x04


def is_webp(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


def peek_size(data: bytes) -> tuple[int, int] | None:
    """The canvas size in the header (as Pillow reads it), unchecked; None if absent."""
    if not is_webp(data) or len(data) < 30:
        return None
    kind = data[12:16]
    if kind == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        return width, int.from_bytes(data[27:30], "little") + 1
    if kind == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def strip(data: bytes, orientation: int) -> bytes:
    """``data`` without its metadata: the same object when there is nothing to drop."""
    if not is_webp(data):
        return data
    end = min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    if data[12:16] != b"VP8X":  # the simple format has no metadata chunks
        return data if end == len(data) else data[:end]
    kept: list[tuple[int, int]] = []
    position, dropped = 12, False
    while position + 8 <= end:
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        stop = min(end, position + 8 + size + (size & 1))
        if data[position : position + 4] in _KEEP:
            kept.append((position, stop))
        else:
            dropped = True
        position = stop
    if not dropped and orientation == 1 and end == len(data):
        return data
    body = bytearray().join(data[start:stop] for start, stop in kept)
    body[8] &= ~(_EXIF_FLAG | _XMP_FLAG) & 0xFF  # VP8X comes first: its flags byte
    if orientation != 1:
        exif = minimal_exif(orientation)
        body += b"EXIF" + struct.pack("<I", len(exif)) + exif + b"\0" * (len(exif) & 1)
        body[8] |= _EXIF_FLAG
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + bytes(body)
