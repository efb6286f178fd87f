from __future__ import annotations

import io
import struct
import zlib

import pytest
from fixtures.inputs import PNG, make_image, noise_image
from PIL import Image, ImageFile

from editserve.inputs import ImageDecodeError, inspect_image, load_rgb

LIMIT = 4096 * 4096


@pytest.mark.parametrize(
    ("fmt", "expected", "ext", "content_type"),
    [
        ("PNG", "PNG", "png", "image/png"),
        ("JPEG", "JPEG", "jpg", "image/jpeg"),
        ("WEBP", "WEBP", "webp", "image/webp"),
        ("GIF", "GIF", "gif", "image/gif"),
        ("BMP", "BMP", "bmp", "image/bmp"),
    ],
)
def test_supported_formats(fmt: str, expected: str, ext: str, content_type: str) -> None:
    info = inspect_image(make_image(fmt, (7, 5)), max_pixels=LIMIT)
    assert (info.format, info.width, info.height) == (expected, 7, 5)
    assert (info.extension, info.content_type) == (ext, content_type)


@pytest.mark.parametrize("fmt", ["TIFF", "ICO", "PPM", "TGA"])
def test_other_image_formats_are_refused(fmt: str) -> None:
    with pytest.raises(ImageDecodeError, match="not a supported image; expected PNG, JPEG"):
        inspect_image(make_image(fmt, (8, 8)), max_pixels=LIMIT)


@pytest.mark.parametrize(
    "data", [b"<html>hello</html>", b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"\0" * 64]
)
def test_non_images_and_bare_magic_are_refused(data: bytes) -> None:
    with pytest.raises(ImageDecodeError):
        inspect_image(data, max_pixels=LIMIT)


def test_empty_file_is_refused() -> None:
    with pytest.raises(ImageDecodeError, match="empty"):
        inspect_image(b"", max_pixels=LIMIT)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP"])
def test_truncated_files_are_refused(fmt: str) -> None:
    data = noise_image(fmt)
    with pytest.raises(ImageDecodeError, match="corrupt|truncated"):
        inspect_image(data[: len(data) * 2 // 3], max_pixels=LIMIT)


def test_corrupt_png_data_is_refused() -> None:
    data = bytearray(make_image("PNG", (32, 32), color=(1, 2, 3)))
    start = data.index(b"IDAT") + 8
    data[start : start + 10] = b"\xff" * 10
    with pytest.raises(ImageDecodeError, match="corrupt"):
        inspect_image(bytes(data), max_pixels=LIMIT)


def _png_claiming(width: int, height: int) -> bytes:
    """A small, valid-looking PNG whose header announces ``width`` x ``height``."""
    data = bytearray(PNG)
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    return bytes(data)


def test_pixel_limit_is_checked_on_the_header_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def must_not_decode(self: object) -> None:
        raise AssertionError("decoded a decompression bomb")

    monkeypatch.setattr(ImageFile.ImageFile, "load", must_not_decode)
    with pytest.raises(ImageDecodeError, match=r"5000x5000 .* over the limit .*max_input_pixels"):
        inspect_image(_png_claiming(5_000, 5_000), max_pixels=LIMIT)


def test_pillow_bomb_threshold_is_reported_too() -> None:
    # Beyond twice Pillow's MAX_IMAGE_PIXELS, Image.open itself refuses.
    with pytest.raises(ImageDecodeError, match="over the limit .*max_input_pixels.*bomb"):
        inspect_image(_png_claiming(100_000, 100_000), max_pixels=LIMIT)
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        load_rgb(_png_claiming(100_000, 100_000))


def test_pixel_limit_boundary() -> None:
    data = make_image("PNG", (10, 10))
    assert inspect_image(data, max_pixels=100).width == 10
    with pytest.raises(ImageDecodeError, match="100 pixels, over the limit of 99 pixels"):
        inspect_image(data, max_pixels=99)


# --- load_rgb ------------------------------------------------------------------------------


def _gif_two_frames() -> bytes:
    frames = [Image.new("RGB", (6, 4), (255, 0, 0)), Image.new("RGB", (6, 4), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return buffer.getvalue()


def test_gif_first_frame() -> None:
    data = _gif_two_frames()
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert inspect_image(data, max_pixels=LIMIT).format == "GIF"
    image = load_rgb(data)
    assert image.mode == "RGB" and image.size == (6, 4)
    assert image.getpixel((0, 0)) == (255, 0, 0)


def test_rgba_is_composited_on_white() -> None:
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))
    image.putpixel((1, 0), (0, 0, 0, 128))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    rgb = load_rgb(buffer.getvalue())
    assert rgb.mode == "RGB"
    assert rgb.getpixel((0, 0)) == (255, 0, 0)
    assert rgb.getpixel((3, 3)) == (255, 255, 255)
    assert all(126 <= channel <= 128 for channel in rgb.getpixel((1, 0)))


def test_la_is_composited_on_white() -> None:
    data = make_image("PNG", (3, 3), mode="LA", color=(0, 0))
    assert load_rgb(data).getpixel((1, 1)) == (255, 255, 255)


def test_palette_with_transparency_is_composited_on_white() -> None:
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 255, 0] + [0, 0, 0] * 255)
    image.putpixel((0, 0), 1)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", transparency=0)
    rgb = load_rgb(buffer.getvalue())
    assert rgb.getpixel((0, 0)) == (0, 0, 0)
    assert rgb.getpixel((2, 2)) == (255, 255, 255)


def test_palette_grey_and_cmyk_become_rgb() -> None:
    palette = Image.new("RGB", (4, 4), (10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE)
    buffer = io.BytesIO()
    palette.save(buffer, "GIF")
    assert load_rgb(buffer.getvalue()).getpixel((0, 0)) == (10, 200, 30)

    grey = load_rgb(make_image("PNG", (4, 4), mode="L", color=77))
    assert grey.mode == "RGB" and grey.getpixel((0, 0)) == (77, 77, 77)

    cmyk = load_rgb(make_image("JPEG", (8, 8), mode="CMYK", color=(0, 255, 255, 0), quality=95))
    red, green, blue = cmyk.getpixel((4, 4))
    assert cmyk.mode == "RGB" and red > 200 and green < 60 and blue < 60


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    data = make_image("PNG", (4, 4), mode="I;16", color=32768)
    assert load_rgb(data).getpixel((0, 0)) == (128, 128, 128)


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (40, 20), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90° clockwise
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=95)
    data = buffer.getvalue()

    info = inspect_image(data, max_pixels=LIMIT)
    assert (info.width, info.height) == (40, 20)  # stored size, as the header says
    upright = load_rgb(data)
    assert upright.size == (20, 40)
    top = upright.getpixel((10, 5))
    bottom = upright.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60  # the red half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_load_rgb_refuses_non_images() -> None:
    with pytest.raises(ImageDecodeError):
        load_rgb(b"not an image")
