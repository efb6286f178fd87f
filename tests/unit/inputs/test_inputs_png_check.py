"""A PNG is checked as a stream, never decoded into an image (inputs/png.py): the check
costs about the same whatever the size, and still refuses what a decode would."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from fixtures.inputs import PNG_SIGNATURE, make_image, noise_image, png_chunk, solid_png
from PIL import Image, ImageFile, PngImagePlugin

from editserve.inputs import ImageDecodeError, inspect_image, load_rgb

LIMIT = 40_000_000


@pytest.fixture
def no_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_decode(self: object) -> None:
        raise AssertionError("the check decoded the image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", must_not_decode)


def test_a_big_png_is_checked_from_its_chunks_without_a_decode(no_decode: None) -> None:
    data = solid_png(6000, 6000)  # 36 MP: 144 MB as a Pillow image
    tracemalloc.start()
    try:
        info = inspect_image(data, max_pixels=LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (info.format, info.width, info.height) == ("PNG", 6000, 6000)
    assert peak < 4 * 1024 * 1024  # the inflated rows are looked at a piece at a time


@pytest.mark.parametrize(
    "mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"], ids=lambda mode: mode.replace(";", "")
)
@pytest.mark.parametrize("interlace", [False, True])
def test_every_pixel_layout_is_accepted_as_pillow_decodes_it(mode: str, interlace: bool) -> None:
    image = Image.frombytes("L", (37, 23), bytes(range(256)) * 4).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    data = _interlaced(buffer.getvalue()) if interlace else buffer.getvalue()
    decoded = Image.open(io.BytesIO(data))
    decoded.load()  # the test's file is good, and means the same image
    assert np.array_equal(np.asarray(decoded), np.asarray(image))
    assert inspect_image(data, max_pixels=LIMIT).width == 37


def _interlaced(data: bytes) -> bytes:
    """The same image, Adam7-interlaced (Pillow does not write interlaced files)."""
    image = Image.open(io.BytesIO(data))
    ihdr = bytearray(data[16:29])
    ihdr[12] = 1
    samples = np.asarray(image)
    raw = b""
    for x0, y0, dx, dy in ADAM7:
        part = samples[y0::dy, x0::dx]
        if part.size == 0:
            continue
        if image.mode == "1":
            rows = np.packbits(part, axis=1)
        else:
            rows = part.astype(">u2" if image.mode == "I;16" else np.uint8)
            rows = rows.reshape(part.shape[0], -1).view(np.uint8)
        raw += np.concatenate([np.zeros((rows.shape[0], 1), np.uint8), rows], axis=1).tobytes()
    chunks = [png_chunk(b"IHDR", bytes(ihdr))]
    if image.mode == "P":
        at = data.index(b"PLTE") - 4
        chunks.append(data[at : at + 12 + int.from_bytes(data[at : at + 4], "big")])
    chunks += [png_chunk(b"IDAT", zlib.compress(raw)), png_chunk(b"IEND", b"")]
    return PNG_SIGNATURE + b"".join(chunks)


ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
ADAM7 += ((0, 1, 1, 2),)


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9, 0.999])
def test_truncated_pngs_are_refused(keep: float) -> None:
    data = noise_image("PNG", (64, 64))
    with pytest.raises(ImageDecodeError, match="corrupt or truncated PNG"):
        inspect_image(data[: int(len(data) * keep)], max_pixels=LIMIT)


def test_a_png_cut_right_after_its_pixels_is_refused_too() -> None:
    data = noise_image("PNG", (64, 64))
    with pytest.raises(ImageDecodeError, match="IEND"):
        inspect_image(data[: data.index(b"IEND") - 4], max_pixels=LIMIT)


def test_pixel_data_short_of_the_rows_is_refused_even_with_good_crcs() -> None:
    # every chunk valid, but the zlib stream holds half the rows the header announces
    half = solid_png(64, 32)
    ihdr = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    data = PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + half[33:]
    with pytest.raises(ImageDecodeError, match="pixel data ends early"):
        inspect_image(data, max_pixels=LIMIT)
    # (Pillow would decode it, the missing rows black; libpng: "Not enough image data")


def test_an_unknown_row_filter_is_refused() -> None:
    raw = bytearray((b"\0" + b"\x10" * 12) * 4)
    raw[13 * 2] = 7  # the third row's filter type
    ihdr = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    data = PNG_SIGNATURE + png_chunk(b"IHDR", ihdr)
    data += png_chunk(b"IDAT", zlib.compress(bytes(raw))) + png_chunk(b"IEND", b"")
    with pytest.raises(ImageDecodeError, match="filter"):
        inspect_image(data, max_pixels=LIMIT)


def test_split_idats_are_fine_but_not_apart() -> None:
    data = solid_png(300, 200, rows_per_idat=7)
    assert inspect_image(data, max_pixels=LIMIT).height == 200
    first = data.index(b"IDAT") - 4
    text = png_chunk(b"tEXt", b"Comment\0between")
    second = data.index(b"IDAT", first + 8) - 4
    apart = data[:second] + text + data[second:]
    with pytest.raises(ImageDecodeError, match="one run"):
        inspect_image(apart, max_pixels=LIMIT)


def test_a_bad_crc_anywhere_is_refused() -> None:
    data = bytearray(make_image("PNG", (16, 16)))
    at = data.index(b"IDAT") + 6
    data[at] ^= 0x01
    with pytest.raises(ImageDecodeError, match="checksum in a IDAT"):
        inspect_image(bytes(data), max_pixels=LIMIT)


def test_text_chunks_over_pillows_limits_are_refused_as_pillow_would() -> None:
    bomb = zlib.compress(b"x" * (PngImagePlugin.MAX_TEXT_CHUNK + 1))
    data = make_image("PNG", (4, 4))
    at = data.index(b"IDAT") - 4
    data = data[:at] + png_chunk(b"zTXt", b"Comment\0\0" + bomb) + data[at:]
    with pytest.raises(ImageDecodeError, match="zTXt chunk inflates to over"):
        inspect_image(data, max_pixels=LIMIT)
    with pytest.raises(ValueError):
        Image.open(io.BytesIO(data))


def test_the_pixel_limit_is_still_checked_before_anything_else(no_decode: None) -> None:
    data = solid_png(101, 100)
    with pytest.raises(ImageDecodeError, match="101x100 = 10100 pixels, over the limit"):
        inspect_image(data, max_pixels=10_000)


def test_what_passes_decodes() -> None:
    data = solid_png(320, 240, rows_per_idat=3)
    inspect_image(data, max_pixels=LIMIT)
    assert load_rgb(data).getpixel((5, 5)) == (128, 128, 128)
