"""JPEG at the byte level: its marker segments, its frame header, the memory a check at
1/8 scale takes, and stripping its metadata.

``strip`` keeps what a decode reads (the tables, the frame and the scans, JFIF's APP0, the
ICC profile in APP2, Adobe's APP14 with its colour transform) and drops the rest: APP1
(EXIF, XMP), APP13 (Photoshop, IPTC), comments, the other APPn segments (maker data,
MPF's index of further pictures), JFXX thumbnails and everything after the first EOI
(the further pictures of an MPO file, vendors' trailers). Where EXIF turned the image,
an APP1 with a minimal EXIF keeps the orientation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from editserve.inputs.edits import EXIF_PREFIX, minimal_exif, splice

SOI = b"\xff\xd8"
EOI = 0xD9
SOS = 0xDA
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # not DHT, JPG, DAC
_PROGRESSIVE = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
_STANDALONE = frozenset({0x00, 0x01, *range(0xD0, 0xD8)})  # no length field
# The next marker after entropy-coded data: 0xFF then neither a stuffed 0x00, nor a
# restart marker (part of the data), nor another 0xFF (fill before the marker).
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


@dataclass(frozen=True)
class JpegFrame:
    width: int
    height: int
    progressive: bool
    sampling: tuple[tuple[int, int], ...]  # (horizontal, vertical) of each component


def segments(data: bytes, *, headers_only: bool = False) -> Iterator[tuple[int, int, int]]:
    """(marker, start at its 0xFF, end) of each segment after SOI; a scan (SOS) ends
    after its entropy-coded data. Stops after EOI, or where the file ends or breaks; with
    ``headers_only``, at the first scan's header (its data is never looked through)."""
    size = len(data)
    position = 2
    while position + 1 < size:
        if data[position] != 0xFF:  # junk between segments: skipped, as libjpeg does
            position = data.find(b"\xff", position)
            if position < 0:
                return
            continue
        marker = data[position + 1]
        if marker == 0xFF:  # a fill byte
            position += 1
            continue
        if marker == EOI:
            yield marker, position, position + 2
            return
        if marker in _STANDALONE:
            position += 2
            continue
        end = position + 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        if end > size or end < position + 4:
            return
        if marker == SOS and headers_only:
            yield marker, position, end
            return
        if marker == SOS:
            found = _NEXT_MARKER.search(data, end)
            end = found.start() if found else size
        yield marker, position, end
        position = end


def frame(data: bytes, *, max_segments: int = 64) -> JpegFrame | None:
    """The frame header (the last SOF before the first scan, as Pillow reads it), looked
    for in the first ``max_segments`` segments; None if not found there."""
    found = None
    for count, (marker, start, end) in enumerate(segments(data, headers_only=True)):
        if count >= max_segments or marker == SOS:
            break
        if marker in _SOF and end - start >= 10:
            height = int.from_bytes(data[start + 5 : start + 7], "big")
            width = int.from_bytes(data[start + 7 : start + 9], "big")
            sampling = tuple(
                (data[at] >> 4, data[at] & 15)
                for at in range(start + 11, min(end, start + 10 + 3 * data[start + 9]), 3)
            )
            found = JpegFrame(width, height, marker in _PROGRESSIVE, sampling)
    return found


def check_cost(
    width: int, height: int, sampling: Sequence[tuple[int, int]], *, multiscan: bool
) -> int:
    """Bytes a decode at 1/8 scale takes: the 1/8 picture, and for a progressive or
    multi-scan file libjpeg's whole-image coefficient buffer (2 bytes a coefficient, at
    each component's sampling) — that buffer does not shrink with the scale."""
    cost = math.ceil(width / 8) * math.ceil(height / 8) * 4
    if multiscan:
        h_max = max((h for h, _ in sampling), default=1) or 1
        v_max = max((v for _, v in sampling), default=1) or 1
        for h, v in sampling or ((1, 1),) * 3:
            blocks_x = math.ceil(math.ceil(width * h / h_max) / 8)
            blocks_y = math.ceil(math.ceil(height * v / v_max) / 8)
            cost += blocks_x * blocks_y * 64 * 2
    return cost


def is_multiscan(data: bytes, progressive: bool) -> bool:
    """Progressive, or more than one scan (both keep every coefficient in memory). The
    segments are followed, so a thumbnail inside EXIF does not count as a scan."""
    if progressive:
        return True
    scans = 0
    for marker, _, _ in segments(data):
        scans += marker == SOS
        if scans > 1:
            return True
    return False


def strip(data: bytes, orientation: int) -> bytes:
    """``data`` without its metadata (see the module's doc): the same object when there
    is nothing to drop."""
    edits: list[tuple[int, int, bytes]] = []
    end = len(data)
    insert_at = 2  # after SOI and a leading APP0 (JFIF wants to come first)
    for marker, start, stop in segments(data):
        if marker == EOI:
            end = stop
            break
        if _is_metadata(data, marker, start):
            edits.append((start, stop, b""))
        elif marker == 0xE0 and start == insert_at:
            insert_at = stop
    if orientation != 1:
        body = EXIF_PREFIX + minimal_exif(orientation)
        segment = b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body
        edits.append((insert_at, insert_at, segment))
    if not edits and end == len(data):
        return data
    return splice(data, edits, end)


def _is_metadata(data: bytes, marker: int, start: int) -> bool:
    if marker == 0xFE:  # COM
        return True
    if not 0xE0 <= marker <= 0xEF:
        return False
    head = data[start + 4 : start + 16]
    if marker == 0xE0:
        return head.startswith(b"JFXX")  # an extension holding a thumbnail
    if marker == 0xE2:
        return not head.startswith(b"ICC_PROFILE\0")
    return marker != 0xEE  # Adobe's APP14 says how to turn YCCK/CMYK into colour
