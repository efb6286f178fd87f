"""Checking a PNG without decoding it into an image, and stripping its metadata.

``verify`` walks the chunks (every CRC checked, IHDR first, IEND present, the IDAT chunks
in one run) and inflates the pixel data as a stream, in pieces of at most ``OUT_PIECE``
bytes that are checked and dropped: the zlib stream must hold every row the header
announces, each starting with a known filter type. That refuses truncated and corrupt files
as a full decode does, at a cost in memory that does not grow with the image (a 40 MP PNG
that Pillow decodes into 160 MB is checked in about 1 MB). It also applies the limits
Pillow puts on text chunks, so a file it accepts opens in the worker.

``strip`` drops the text and EXIF chunks (tEXt, iTXt, zTXt, eXIf) and anything after
IEND; where the metadata turned the image, a minimal eXIf keeps the orientation.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from PIL import PngImagePlugin

from editserve.inputs.edits import minimal_exif, orientation_of, splice

SIGNATURE = b"\x89PNG\r\n\x1a\n"
OUT_PIECE = 1 << 20  # inflated bytes held at once
IN_PIECE = 1 << 16  # compressed bytes fed at once
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
# Adam7 passes: first column, first row, column step, row step
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_FILTERS = bytes(range(5))
_TEXT = (b"tEXt", b"zTXt", b"iTXt")
_METADATA = (*_TEXT, b"eXIf")
_XMP_KEY = b"XML:com.adobe.xmp"
_RAW_EXIF_KEY = b"Raw profile type exif"


class PngError(ValueError):
    """Why the bytes are not a whole, valid PNG."""


@dataclass(frozen=True)
class PngHeader:
    width: int
    height: int
    depth: int
    color: int
    interlaced: bool

    def rows(self) -> list[tuple[int, int]]:
        """(bytes per row, filter byte included; rows) of each pass of the pixel data."""
        bits = self.depth * _CHANNELS[self.color]
        passes = _ADAM7 if self.interlaced else ((0, 0, 1, 1),)
        out = []
        for x0, y0, dx, dy in passes:
            width = (self.width - x0 + dx - 1) // dx
            height = (self.height - y0 + dy - 1) // dy
            if width > 0 and height > 0:
                out.append((1 + (width * bits + 7) // 8, height))
        return out


@dataclass
class PngLayout:
    """What ``verify`` found: where the metadata is, and what turns the image."""

    end: int = 0  # just after IEND
    first_idat: int = 0
    metadata: list[tuple[int, int]] = field(default_factory=list)  # whole chunks
    exif: bytes | None = None
    raw_exif: bytes | None = None  # ImageMagick's "Raw profile type exif" text, hex
    xmp: bytes | None = None

    def orientation(self) -> int:
        exif = self.exif
        if exif is None and self.raw_exif is not None:
            try:  # as Pillow reads it: hex after the first three lines
                exif = bytes.fromhex("".join(self.raw_exif.decode("latin-1").split("\n")[3:]))
            except ValueError:
                exif = None
        return orientation_of(exif, self.xmp)


def read_header(data: bytes) -> PngHeader:
    """The IHDR chunk, checked (the first chunk, with a valid CRC and known values)."""
    if len(data) < 33 or data[12:16] != b"IHDR" or data[8:12] != b"\x00\x00\x00\x0d":
        raise PngError("no IHDR chunk")
    if zlib.crc32(data[12:29]) != struct.unpack_from(">I", data, 29)[0]:
        raise PngError("bad checksum in IHDR")
    width, height, depth, color, compression, filters, interlace = struct.unpack_from(
        ">IIBBBBB", data, 16
    )
    if depth not in _DEPTHS.get(color, ()):
        raise PngError(f"bit depth {depth} with color type {color} is not PNG")
    if compression or filters or interlace > 1:
        raise PngError("unknown compression, filter or interlace method")
    return PngHeader(width, height, depth, color, interlace == 1)


def chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end of its data) of each chunk up to IEND, every CRC checked."""
    view = memoryview(data)
    position = 8
    while True:
        if position + 12 > len(data):
            raise PngError("truncated: the file ends before IEND")
        length, kind = struct.unpack_from(">I4s", data, position)
        end = position + 8 + length
        if not kind.isalpha() or length > 0x7FFFFFFF:
            raise PngError(f"broken chunk {kind!r}")
        if end + 4 > len(data):
            raise PngError(f"truncated in a {kind.decode('latin-1')} chunk")
        if zlib.crc32(view[position + 4 : end]) != struct.unpack_from(">I", data, end)[0]:
            raise PngError(f"bad checksum in a {kind.decode('latin-1')} chunk")
        yield kind, position + 8, end
        if kind == b"IEND":
            return
        position = end + 4


def verify(data: bytes, header: PngHeader) -> PngLayout:
    """Check the whole file (see the module's doc); return where its metadata is."""
    layout, text = PngLayout(), _TextLimits()
    pixels = _PixelStream(header)
    view = memoryview(data)
    state = "before"  # before, in, after the run of IDAT chunks
    for kind, start, end in chunks(data):
        if kind == b"IDAT":
            if state == "after":
                raise PngError("IDAT chunks are not in one run")
            if state == "before":
                layout.first_idat, state = start - 8, "in"
            pixels.feed(view[start:end])
            continue
        state = "after" if state == "in" else state
        if kind == b"IHDR" and start != 16:
            raise PngError("more than one IHDR chunk")
        if kind == b"iCCP":
            _inflate_bounded(data[start:end].split(b"\0", 1)[-1][1:], "iCCP")
        if kind in _METADATA:
            layout.metadata.append((start - 8, end + 4))
            _read_metadata(layout, text, kind, data[start:end])
        layout.end = end + 4
    if state == "before":
        raise PngError("no image data (IDAT)")
    pixels.finish()
    return layout


def strip(data: bytes, layout: PngLayout) -> bytes:
    """``data`` without its metadata chunks and what follows IEND (the same object when
    there is nothing to drop); a minimal eXIf where the metadata turned the image."""
    if not layout.metadata and layout.end == len(data):
        return data
    edits = [(start, end, b"") for start, end in layout.metadata]
    orientation = layout.orientation()
    if orientation != 1:
        exif = _chunk(b"eXIf", minimal_exif(orientation))
        edits.append((layout.first_idat, layout.first_idat, exif))
    return splice(data, edits, layout.end)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


class _PixelStream:
    """The IDAT data inflated piece by piece; each piece's filter bytes checked, then
    dropped. Data past the last row is ignored, as decoders do."""

    def __init__(self, header: PngHeader) -> None:
        self.inflater = zlib.decompressobj()
        self.passes: list[tuple[int, int, int]] = []  # (first byte, bytes per row, end)
        position = 0
        for stride, rows in header.rows():
            self.passes.append((position, stride, position + stride * rows))
            position += stride * rows
        self.expected = position
        self.done = 0

    def feed(self, data: memoryview) -> None:
        for offset in range(0, len(data), IN_PIECE):
            pending: bytes | memoryview = data[offset : offset + IN_PIECE]
            while pending and self.done < self.expected and not self.inflater.eof:
                wanted = min(OUT_PIECE, self.expected - self.done)
                try:
                    out = self.inflater.decompress(pending, wanted)
                except zlib.error as exc:
                    raise PngError(f"corrupt pixel data ({exc})") from None
                self._check_filters(out)
                self.done += len(out)
                pending = self.inflater.unconsumed_tail

    def finish(self) -> None:
        if self.done < self.expected:
            raise PngError(f"pixel data ends early ({self.done} of {self.expected} bytes)")

    def _check_filters(self, out: bytes) -> None:
        low, high = self.done, self.done + len(out)
        for first, stride, end in self.passes:
            if end <= low or first >= high:
                continue
            row = first + max(0, -(-(low - first) // stride)) * stride  # first row start >= low
            if row < min(end, high) and out[row - low : min(end, high) - low : stride].translate(
                None, _FILTERS
            ):
                raise PngError("corrupt pixel data (unknown row filter)")


class _TextLimits:
    """Pillow's limits on text chunks (one decompressed chunk, all text together)."""

    def __init__(self) -> None:
        self.total = 0

    def add(self, size: int) -> None:
        self.total += size
        if self.total > PngImagePlugin.MAX_TEXT_MEMORY:
            raise PngError("too much text in text chunks")


def _inflate_bounded(data: bytes, what: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, PngImagePlugin.MAX_TEXT_CHUNK)
    except zlib.error:
        return b""  # Pillow skips a chunk it cannot inflate
    if inflater.unconsumed_tail:
        raise PngError(f"{what} chunk inflates to over {PngImagePlugin.MAX_TEXT_CHUNK} bytes")
    return out


def _read_metadata(layout: PngLayout, text: _TextLimits, kind: bytes, body: bytes) -> None:
    if kind == b"eXIf":
        layout.exif = body
        return
    key, _, value = body.partition(b"\0")
    if kind == b"zTXt":
        if value[:1] not in (b"", b"\0"):
            raise PngError("unknown compression method in a zTXt chunk")
        value = _inflate_bounded(value[1:], "zTXt")
    elif kind == b"iTXt":
        compressed, _method, rest = value[:1], value[1:2], value[2:]
        value = rest.split(b"\0", 2)[-1]
        if compressed == b"\x01":
            value = _inflate_bounded(value, "iTXt")
    text.add(len(value))
    if key == _XMP_KEY:
        layout.xmp = value
    elif key == _RAW_EXIF_KEY:
        layout.raw_exif = value
