"""Pre- and post-processing: input decode + resize and output encode, ours vs plain Pillow.

Inputs: a 12 MP JPEG and a 4 MP PNG (photo-like: smooth colour, texture and sensor-like
noise), decoded and resized to the model's ~1 MP, one and three at a time. Outputs: a
1 MP image encoded as PNG, JPEG and WebP with the product's defaults, and WebP at the
quality where its PSNR passes the baseline's. The baseline is what a plain Pillow user writes:
open, convert, resize (Pillow's default filter), save with Pillow's defaults. Quality is
checked by PSNR: ours against the baseline's pixels for decoding, each encoding against
the original for encoding (PNG is lossless: inf).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from bench.common import Row, paired
from editserve.inputs.decode import fit_area, load_rgb, load_rgb_many
from editserve.worker.output import FORMATS, encode_image

AREA = 1024 * 1024
SECTION = "images"


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A synthetic photo: smooth colour fields, fine texture and mild noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, (height // 64 + 2, width // 64 + 2, 3), dtype=np.uint8)
    base = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    pixels = np.asarray(base).astype(np.int16)
    yy, xx = np.mgrid[0:height, 0:width]
    pixels += (((xx // 7 + yy // 11) % 2) * 16)[..., None].astype(np.int16)
    pixels += rng.normal(0, 3, pixels.shape).astype(np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def psnr(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a.convert("RGB"), dtype=np.float64)
    y = np.asarray(b.convert("RGB"), dtype=np.float64)
    mse = float(((x - y) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def naive_decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    return image.resize(fit_area(image.size, AREA))


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def run(repeat: int, scale: float = 1.0) -> list[Row]:
    """``scale`` < 1 shrinks the images (for the smoke test)."""
    jpeg_size = (int(4000 * scale), int(3000 * scale))
    png_size = (int(2304 * scale), int(1728 * scale))
    area = int(AREA * scale * scale)
    inputs = {
        "12 MP JPEG": _encoded(photo(*jpeg_size), "JPEG", quality=90),
        "4 MP PNG": _encoded(photo(*png_size, seed=1), "PNG"),
    }
    rows: list[Row] = []
    for name, data in inputs.items():
        for count in (1, 3):
            items = [data] * count

            def base(items: list[bytes] = items) -> list[Image.Image]:
                return [naive_decode_area(item, area) for item in items]

            def ours(items: list[bytes] = items) -> list[Image.Image]:
                return load_rgb_many(items, max_area=area)

            t_base, t_ours = paired(base, ours, repeat)
            closeness = psnr(base()[0], ours()[0])
            rows.append(
                Row(SECTION, f"decode+resize {name} x{count}", t_ours, t_base, "s", goal=3.0,
                    note=f"PSNR vs plain {closeness:.1f} dB")
            )  # fmt: skip
    output = photo(int(1024 * scale), int(1024 * scale), seed=2)
    # The product's defaults (output_quality 95 for jpg and webp), and webp at the quality
    # where its PSNR first passes the baseline's (the settings' speed at equal quality).
    encodes: list[tuple[str, int | None, str]] = [
        (fmt, None, f"encode 1 MP {fmt}") for fmt in FORMATS
    ]
    encodes.append(("webp", 85, "encode 1 MP webp, quality 85 (PSNR ≥ the baseline's)"))
    for fmt, quality, label in encodes:
        pil_format = FORMATS[fmt][0]

        def base_run(f: str = pil_format) -> bytes:
            return _encoded(output.convert("RGB"), f)

        def ours_run(f: str = fmt, q: int | None = quality) -> bytes:
            return encode_image(output, f, q)[0]

        t_base, t_ours = paired(base_run, ours_run, repeat)
        ours_bytes, base_bytes = ours_run(), base_run()
        q_ours = psnr(output, Image.open(io.BytesIO(ours_bytes)))
        q_base = psnr(output, Image.open(io.BytesIO(base_bytes)))
        rows.append(
            Row(SECTION, label, t_ours, t_base, "s", goal=3.0,
                note=f"PSNR {q_ours:.1f} vs {q_base:.1f} dB; "
                     f"{len(ours_bytes) // 1024} vs {len(base_bytes) // 1024} KiB")
        )  # fmt: skip
    return rows


def naive_decode_area(data: bytes, area: int) -> Image.Image:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    return image.resize(fit_area(image.size, area))


__all__ = ["naive_decode", "photo", "psnr", "run", "load_rgb"]
