"""The encoders' settings (worker/output.py): our PNG writer is lossless, readable and about
the size of Pillow's level-1 output on photos, text, flat graphics and tiled patterns;
Pillow still writes what it cannot (no numpy, an ICC profile); WebP and JPEG at their
defaults are at least as good as Pillow's defaults by PSNR."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageDraw

from editserve.worker import output
from editserve.worker.output import encode_image


def photo(size: int = 256, seed: int = 3) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, (size // 32 + 2, size // 32 + 2, 3), dtype=np.uint8)
    base = Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)
    pixels = np.asarray(base).astype(np.int16) + rng.normal(0, 3, (size, size, 3)).astype(np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def graphic(size: int = 256) -> Image.Image:
    image = Image.new("RGB", (size, size), (240, 240, 240))
    draw = ImageDraw.Draw(image)
    for index in range(12):
        box = (index * 16, index * 12, index * 16 + 80, index * 12 + 40)
        draw.rectangle(box, fill=(index * 20, 255 - index * 20, 90))
    draw.text((8, 8), "editserve " * 4, fill=(0, 0, 0))
    return image


def tiled(size: int = 256) -> Image.Image:
    tile = np.random.default_rng(4).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    return Image.fromarray(np.tile(tile, (size // 8, size // 8, 1)))


def odd(width: int = 7, height: int = 3) -> Image.Image:
    rng = np.random.default_rng(5)
    return Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))


def pillow_default(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def psnr(image: Image.Image, data: bytes) -> float:
    back = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)
    mse = float(((back - np.asarray(image, dtype=np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.mark.parametrize("make", [photo, graphic, tiled, odd])
def test_png_is_lossless_and_about_pillows_level_1_size(make: Callable[[], Image.Image]) -> None:
    image = make()
    data, media = encode_image(image, "png")
    assert media == "image/png"
    back = Image.open(io.BytesIO(data))
    back.load()  # Pillow checks every chunk's CRC
    assert back.format == "PNG" and back.mode == "RGB" and back.size == image.size
    assert back.tobytes() == image.tobytes()
    assert len(data) <= 1.1 * len(pillow_default(image, "PNG", compress_level=1)) + 64


def test_our_png_writer_is_what_runs() -> None:
    image = photo()
    assert encode_image(image, "png")[0] == output._png(image)
    assert encode_image(image.convert("RGBA"), "png")[0] == output._png(image)


def test_pillow_writes_the_png_without_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    image = photo()
    monkeypatch.setitem(sys.modules, "numpy", None)  # `import numpy` fails
    data = encode_image(image, "png")[0]
    assert data == pillow_default(image, "PNG", compress_level=1)


def test_pillow_writes_a_png_with_an_icc_profile() -> None:
    image = photo()
    image.info["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    back = Image.open(io.BytesIO(encode_image(image, "png")[0]))
    assert back.info.get("icc_profile") == image.info["icc_profile"]
    assert back.tobytes() == image.tobytes()


@pytest.mark.parametrize(("fmt", "pil"), [("webp", "WEBP"), ("jpg", "JPEG")])
def test_lossy_defaults_are_at_least_as_good_as_pillows(fmt: str, pil: str) -> None:
    image = photo(512)
    ours = encode_image(image, fmt)[0]
    assert psnr(image, ours) >= psnr(image, pillow_default(image, pil))
    assert psnr(image, ours) >= 35


def test_webp_quality_still_comes_from_the_request() -> None:
    image = photo()
    low, mid = encode_image(image, "webp", 40)[0], encode_image(image, "webp", 70)[0]
    assert psnr(image, low) < psnr(image, mid) < psnr(image, encode_image(image, "webp")[0])
