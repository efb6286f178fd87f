"""Output encoding: each format decodes back to the image (PNG exactly, JPEG and WebP
closely), whatever mode the model returned."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from editserve.worker.output import encode_image


def picture() -> Image.Image:
    yy, xx = np.mgrid[0:96, 0:128]
    pixels = np.stack([xx * 2, yy * 2, (xx + yy) % 256], axis=-1).astype(np.uint8)
    return Image.fromarray(pixels)


@pytest.mark.parametrize(
    ("fmt", "content_type", "pil", "min_psnr"),
    [
        ("png", "image/png", "PNG", float("inf")),
        ("jpg", "image/jpeg", "JPEG", 35.0),
        ("webp", "image/webp", "WEBP", 30.0),
    ],
)
def test_encoded_output_decodes_back(
    fmt: str, content_type: str, pil: str, min_psnr: float
) -> None:
    image = picture()
    data, media = encode_image(image, fmt)
    assert media == content_type
    back = Image.open(io.BytesIO(data))
    assert back.format == pil and back.size == image.size
    diff = np.asarray(back.convert("RGB"), dtype=np.float64) - np.asarray(image, dtype=np.float64)
    mse = float((diff**2).mean())
    psnr = float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)
    assert psnr >= min_psnr


def test_non_rgb_results_are_converted() -> None:
    rgba = picture().convert("RGBA")
    data, _ = encode_image(rgba, "png")
    assert Image.open(io.BytesIO(data)).mode == "RGB"
