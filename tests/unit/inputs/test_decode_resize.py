"""The resize of decoded inputs (inputs/resize.py): torch's antialiased bicubic gives
Pillow's BICUBIC result (by PSNR) at the target size, reading Pillow's pixels in place or
from a packed copy alike; without torch, Pillow's resize does it; a JPEG still reaches the
resize at its reduced DCT scale."""

from __future__ import annotations

import gc
import io
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from fixtures.inputs import encoded, psnr
from PIL import Image

from editserve.inputs import decode, resize
from editserve.inputs.decode import fit_area, load_rgb
from editserve.inputs.resize import REDUCING_GAP, resize_rgb

torch = pytest.importorskip("torch")


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """Smooth colour fields, fine texture and mild noise (what the bench decodes too)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, (height // 32 + 2, width // 32 + 2, 3), dtype=np.uint8)
    base = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    pixels = np.asarray(base).astype(np.int16)
    yy, xx = np.mgrid[0:height, 0:width]
    pixels += (((xx // 5 + yy // 7) % 2) * 16)[..., None].astype(np.int16)
    pixels += rng.normal(0, 3, pixels.shape).astype(np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def pillow_bicubic(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image.resize(size, Image.Resampling.BICUBIC)


@pytest.fixture
def without_torch(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`import torch` fails, as on an API-only node."""
    monkeypatch.setitem(sys.modules, "torch", None)  # None in sys.modules: ImportError
    resize._torch_and_numpy.cache_clear()
    yield
    monkeypatch.undo()
    resize._torch_and_numpy.cache_clear()


@pytest.mark.parametrize(
    ("source", "target"),
    [((2000, 1500), (1155, 866)), ((1203, 901), (640, 479)), ((640, 480), (97, 73))],
)
def test_torch_resize_matches_pillow_bicubic(
    source: tuple[int, int], target: tuple[int, int]
) -> None:
    image = photo(*source)
    ours = resize_rgb(image, target)
    assert resize._torch_and_numpy() is not None  # the torch path ran
    assert ours.mode == "RGB" and ours.size == target
    assert psnr(ours, pillow_bicubic(image, target)) >= 40


def test_pixels_read_in_place_or_copied_give_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = photo(801, 599)
    assert resize._pixels(image, np).shape == (599, 801, 4)  # Pillow's RGBX memory
    in_place = resize_rgb(image, (400, 299))
    monkeypatch.setattr(resize, "_rgbx_memory", lambda *args: None)
    assert resize._pixels(image, np).shape == (599, 801, 3)  # the packed copy
    copied = resize_rgb(image, (400, 299))
    assert np.array_equal(np.asarray(in_place), np.asarray(copied))


def test_pixels_read_in_place_outlive_the_image() -> None:
    image = photo(64, 48)
    expected = np.asarray(image).copy()
    pixels = resize._pixels(image, np)
    del image
    gc.collect()
    assert np.array_equal(pixels[..., :3], expected)  # the export keeps Pillow's memory


def test_extreme_shapes_and_non_rgb_images() -> None:
    assert resize_rgb(photo(4000, 3), (1000, 1)).size == (1000, 1)
    assert resize_rgb(photo(3, 4000), (1, 1000)).size == (1, 1000)
    grey = photo(300, 200).convert("L")  # not RGB: Pillow resizes it, mode kept
    assert resize_rgb(grey, (150, 100)).mode == "L"


def test_without_torch_pillow_resizes(without_torch: None) -> None:
    assert resize._torch_and_numpy() is None
    image = photo(1203, 901)
    ours = resize_rgb(image, (640, 479))
    expected = image.resize((640, 479), Image.Resampling.BICUBIC, reducing_gap=REDUCING_GAP)
    assert ours.tobytes() == expected.tobytes()
    data = encoded(photo(1600, 1200), "JPEG", quality=95)
    decoded = load_rgb(data, max_area=300 * 225)
    plain = Image.open(io.BytesIO(data)).convert("RGB")
    assert decoded.size == (300, 225)
    assert psnr(decoded, pillow_bicubic(plain, (300, 225))) > 35


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_load_rgb_matches_plain_pillow(fmt: str) -> None:
    data = encoded(photo(1600, 1200), fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    ours = load_rgb(data, max_area=1024 * 1024 // 2)
    plain = Image.open(io.BytesIO(data)).convert("RGB")
    plain = pillow_bicubic(plain, fit_area(plain.size, 1024 * 1024 // 2))
    assert ours.mode == "RGB" and ours.size == plain.size
    assert psnr(ours, plain) >= (40 if fmt == "JPEG" else 50)


def test_jpeg_reaches_the_resize_at_a_reduced_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encoded(photo(1600, 1200), "JPEG")
    seen: list[tuple[int, int]] = []

    def spy(image: Image.Image, size: tuple[int, int]) -> Image.Image:
        seen.append(image.size)
        return resize_rgb(image, size)

    monkeypatch.setattr(decode, "resize_rgb", spy)
    assert load_rgb(data, max_area=300 * 225).size == (300, 225)
    assert seen == [(400, 300)]  # 1/4 scale still covers 300x225; 1/8 would not


def test_an_image_at_the_target_size_is_not_resized(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode, "resize_rgb", None)  # would fail if called
    image = load_rgb(encoded(photo(120, 90), "PNG"), max_area=120 * 90)
    assert image.size == (120, 90) and type(image) is Image.Image  # a copy, not the file
