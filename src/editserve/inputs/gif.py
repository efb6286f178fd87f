"""GIF at the byte level: stripping its metadata (comment extensions, the XMP application
extension, bytes after the trailer).

A GIF holds no EXIF; Pillow reads an orientation from its XMP, so where that turns the
image the XMP extension is kept whole.
"""

from __future__ import annotations

from editserve.inputs.edits import splice

_XMP_APP = b"XMP DataXMP"


def strip(data: bytes, orientation: int) -> bytes:
    """``data`` without its metadata: the same object when there is nothing to drop, or
    when its block structure cannot be followed (Pillow read it, though: left as sent)."""
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        return data
    position = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    edits: list[tuple[int, int, bytes]] = []
    while position < len(data):
        kind = data[position]
        if kind == 0x3B:  # the trailer
            end = position + 1
            break
        if kind == 0x21 and position + 1 < len(data):
            stop = _sub_blocks(data, position + 2)
            if stop < 0:
                return data
            if _is_metadata(data, position, orientation):
                edits.append((position, stop, b""))
            position = stop
        elif kind == 0x2C and position + 10 < len(data):
            packed = data[position + 9]
            start = position + 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0) + 1
            position = _sub_blocks(data, start)
            if position < 0:
                return data
        else:
            return data
    else:
        return data
    if not edits and end == len(data):
        return data
    return splice(data, edits, end)


def _sub_blocks(data: bytes, position: int) -> int:
    """Where the sub-blocks starting at ``position`` end (after the empty one); -1 if the
    file ends first."""
    while position < len(data):
        size = data[position]
        position += 1 + size
        if size == 0:
            return position
    return -1


def _is_metadata(data: bytes, position: int, orientation: int) -> bool:
    label = data[position + 1]
    if label == 0xFE:  # a comment
        return True
    is_xmp = label == 0xFF and data[position + 2 : position + 14] == b"\x0b" + _XMP_APP
    return is_xmp and orientation == 1
