"""Two small, recognisable input pictures for the browser tests (and their screenshots)."""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw, ImageFilter


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _vertical_gradient(
    size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]
) -> Image.Image:
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / max(1, height - 1)
        color = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        draw.line([(0, y), (width, y)], fill=color)
    return image


def landscape(width: int = 480, height: int = 360) -> bytes:
    """A sunset over layered hills: Picture 1 of the tests."""
    image = _vertical_gradient((width, height), (54, 74, 160), (250, 170, 120))
    sx, sy, radius = int(width * 0.68), int(height * 0.52), int(height * 0.11)
    glow = Image.new("L", (width, height), 0)
    ImageDraw.Draw(glow).ellipse(
        [sx - radius * 3, sy - radius * 3, sx + radius * 3, sy + radius * 3], fill=150
    )
    image.paste((255, 214, 150), (0, 0), glow.filter(ImageFilter.GaussianBlur(36)))
    draw = ImageDraw.Draw(image)
    draw.ellipse([sx - radius, sy - radius, sx + radius, sy + radius], fill=(255, 236, 190))
    hills = [((96, 72, 124), 0.6, 0.9), ((62, 50, 100), 0.7, 1.6), ((34, 30, 64), 0.82, 2.3)]
    for color, base, freq in hills:
        points = [(0.0, float(height))]
        for x in range(0, width + 8, 8):
            y = height * base + math.sin(x / width * math.pi * freq + base * 7) * height * 0.06
            points.append((float(x), y))
        points.append((float(width), float(height)))
        draw.polygon(points, fill=color)
    return _png(image)


def product(width: int = 360, height: int = 480) -> bytes:
    """A mug on a soft backdrop: Picture 2 of the tests."""
    image = _vertical_gradient((width, height), (236, 232, 226), (206, 198, 188))
    draw = ImageDraw.Draw(image)
    cx, top, bottom = width // 2, int(height * 0.36), int(height * 0.74)
    half = int(width * 0.2)
    shadow = Image.new("L", (width, height), 0)
    ImageDraw.Draw(shadow).ellipse(
        [cx - half - 20, bottom - 14, cx + half + 30, bottom + 22], fill=120
    )
    image.paste((150, 140, 130), (0, 0), shadow.filter(ImageFilter.GaussianBlur(10)))
    draw = ImageDraw.Draw(image)
    handle = [cx + half - 10, top + 40, cx + half + 58, bottom - 50]
    draw.rounded_rectangle(handle, radius=30, outline=(32, 104, 150), width=16)
    draw.rounded_rectangle([cx - half, top, cx + half, bottom], radius=18, fill=(40, 122, 172))
    draw.rounded_rectangle(
        [cx - half + 10, top + 12, cx - half + 24, bottom - 16], radius=7, fill=(92, 168, 210)
    )
    draw.ellipse([cx - half, top - 14, cx + half, top + 14], fill=(30, 96, 140))
    draw.ellipse([cx - half + 8, top - 8, cx + half - 8, top + 8], fill=(70, 48, 36))
    return _png(image)
