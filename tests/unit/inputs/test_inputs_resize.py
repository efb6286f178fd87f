"""Decoding inputs at the size the model uses: JPEG draft decoding and the resize give the
plain Pillow result (by PSNR) at the same size; EXIF turns are respected. (The resize
itself and the reduced JPEG scale: test_decode_resize.py.)"""

from __future__ import annotations

import io

import numpy as np
import pytest
from fixtures.inputs import encoded, psnr
from PIL import Image

from editserve.inputs.decode import (
    ImageDecodeError,
    fit_area,
    inspect_image,
    load_rgb,
    load_rgb_many,
)


def photo(width: int, height: int) -> Image.Image:
    yy, xx = np.mgrid[0:height, 0:width]
    pixels = np.stack([xx * 255 // width, yy * 255 // height, (xx + yy) % 256], axis=-1)
    return Image.fromarray(pixels.astype(np.uint8))


def test_fit_area_keeps_the_ratio_and_never_enlarges() -> None:
    assert fit_area((4000, 3000), 1_000_000) == (1155, 866)
    assert fit_area((100, 50), 1_000_000) == (100, 50)
    assert fit_area((10_000, 1), 100) == (1000, 1)  # each side at least 1


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_shrunk_decode_matches_plain_pillow(fmt: str) -> None:
    data = encoded(photo(1600, 1200), fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    area = 300 * 225
    ours = load_rgb(data, max_area=area)
    plain = Image.open(io.BytesIO(data)).convert("RGB")
    plain = plain.resize(fit_area(plain.size, area))
    assert ours.mode == "RGB" and ours.size == plain.size == (300, 225)
    assert psnr(ours, plain) > 35


def test_exif_turned_jpeg_gets_the_turned_size() -> None:
    image = photo(800, 400)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = encoded(image, "JPEG", exif=exif)
    ours = load_rgb(data, max_area=200 * 100)
    assert ours.size == (100, 200)
    assert load_rgb(data).size == (400, 800)


def test_small_images_are_left_alone_and_many_keep_their_order() -> None:
    small = encoded(Image.new("RGB", (40, 30), (1, 2, 3)), "PNG")
    big = encoded(photo(640, 480), "JPEG")
    out = load_rgb_many([small, big, small], max_area=160 * 120)
    assert [image.size for image in out] == [(40, 30), (160, 120), (40, 30)]
    assert out[0].getpixel((0, 0)) == (1, 2, 3)
    with pytest.raises(ImageDecodeError):
        load_rgb_many([small, b"not an image"], max_area=100)


def test_inspect_still_refuses_a_truncated_jpeg_when_checking_at_reduced_scale() -> None:
    data = encoded(photo(800, 600), "JPEG")
    assert inspect_image(data, max_pixels=10**7).width == 800
    with pytest.raises(ImageDecodeError):
        inspect_image(data[: len(data) // 2], max_pixels=10**7)
