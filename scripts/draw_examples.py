"""Draw the repository's sample pictures (examples/cat.png, examples/dog.png).

The README's snippets use them, so every block runs as pasted on a fresh clone with no
picture of one's own. They are drawn here from shapes, so the project owns them outright
(dedicated to the public domain, see examples/README.md). Deterministic: re-running the
script gives the same bytes.

    python scripts/draw_examples.py            # rewrite examples/*.png
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 640
SCALE = 3  # drawn large, then scaled down: smooth edges without an anti-aliasing library
OUT = Path(__file__).resolve().parents[1] / "examples"

Box = tuple[float, float, float, float]


def _box(cx: float, cy: float, rx: float, ry: float) -> list[float]:
    return [(cx - rx) * SCALE, (cy - ry) * SCALE, (cx + rx) * SCALE, (cy + ry) * SCALE]


def _poly(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(x * SCALE, y * SCALE) for x, y in points]


def _backdrop(draw: ImageDraw.ImageDraw, sky: str, floor: str) -> None:
    draw.rectangle([0, 0, SIZE * SCALE, SIZE * SCALE], fill=sky)
    draw.rectangle([0, 470 * SCALE, SIZE * SCALE, SIZE * SCALE], fill=floor)


def _eyes(draw: ImageDraw.ImageDraw, y: float, gap: float, iris: str) -> None:
    for x in (320 - gap, 320 + gap):
        draw.ellipse(_box(x, y, 24, 28), fill="white", outline="#222", width=2 * SCALE)
        draw.ellipse(_box(x + 3, y + 4, 14, 18), fill=iris)
        draw.ellipse(_box(x + 3, y + 4, 7, 10), fill="#111")
        draw.ellipse(_box(x + 8, y - 4, 4, 4), fill="white")


def draw_cat(draw: ImageDraw.ImageDraw) -> None:
    _backdrop(draw, "#cfe8f3", "#e9d8b4")
    fur, dark, ink = "#f0a04b", "#c9752a", "#222"
    draw.arc(_box(420, 450, 120, 110), 300, 100, fill=dark, width=18 * SCALE)  # tail, behind
    draw.ellipse(_box(320, 470, 150, 120), fill=fur, outline=ink, width=3 * SCALE)  # body
    draw.ellipse(_box(320, 495, 80, 70), fill="#fbe3c4")  # belly
    for ear_x, tip_x in ((225, 200), (415, 440)):  # ears, then their pink insides
        draw.polygon(_poly([(ear_x - 55, 250), (tip_x, 120), (ear_x + 55, 230)]), fill=fur)
        draw.polygon(_poly([(ear_x - 30, 240), (tip_x + 5, 160), (ear_x + 30, 228)]), "#f6b8b8")
    draw.ellipse(_box(320, 290, 140, 120), fill=fur, outline=ink, width=3 * SCALE)  # head
    for dx in (-60, 0, 60):  # stripes on the forehead
        draw.polygon(_poly([(320 + dx - 12, 175), (320 + dx, 225), (320 + dx + 12, 175)]), dark)
    _eyes(draw, 280, 55, "#4e9a3a")
    draw.polygon(_poly([(305, 318), (335, 318), (320, 334)]), fill="#e57a8a")  # nose
    draw.arc(_box(306, 340, 14, 10), 0, 180, fill=ink, width=2 * SCALE)  # mouth
    draw.arc(_box(334, 340, 14, 10), 0, 180, fill=ink, width=2 * SCALE)
    for side in (-1, 1):  # whiskers
        for dy in (-8, 6, 20):
            start, end = (320 + side * 40, 330 + dy / 2), (320 + side * 150, 320 + dy)
            draw.line(_poly([start, end]), fill=ink, width=2 * SCALE)
    draw.ellipse(_box(255, 575, 40, 22), fill=fur, outline=ink, width=2 * SCALE)  # paws
    draw.ellipse(_box(385, 575, 40, 22), fill=fur, outline=ink, width=2 * SCALE)


def draw_dog(draw: ImageDraw.ImageDraw) -> None:
    _backdrop(draw, "#fdf1d6", "#b9d99a")
    fur, ears, ink = "#d9c3a0", "#7a5632", "#222"
    draw.ellipse(_box(320, 480, 140, 115), fill=fur, outline=ink, width=3 * SCALE)  # body
    draw.ellipse(_box(320, 290, 130, 125), fill=fur, outline=ink, width=3 * SCALE)  # head
    draw.ellipse(_box(190, 300, 45, 95), fill=ears, outline=ink, width=3 * SCALE)  # ears
    draw.ellipse(_box(450, 300, 45, 95), fill=ears, outline=ink, width=3 * SCALE)
    draw.ellipse(_box(375, 265, 45, 40), fill="#b08a5c")  # a patch round one eye
    _eyes(draw, 265, 50, "#6b4423")
    draw.ellipse(_box(320, 345, 70, 50), fill="#f3e6d0", outline=ink, width=2 * SCALE)  # muzzle
    draw.ellipse(_box(320, 325, 24, 16), fill="#1d1d1d")  # nose
    draw.line(_poly([(320, 341), (320, 362)]), fill=ink, width=2 * SCALE)
    draw.arc(_box(302, 362, 18, 12), 0, 180, fill=ink, width=2 * SCALE)
    draw.arc(_box(338, 362, 18, 12), 0, 180, fill=ink, width=2 * SCALE)
    draw.ellipse(_box(320, 392, 14, 18), fill="#e5737f", outline=ink, width=2 * SCALE)  # tongue
    draw.rectangle(_box(320, 420, 95, 10), fill="#2f6fb7")  # collar
    draw.ellipse(_box(320, 438, 12, 12), fill="#f2c530", outline=ink, width=2 * SCALE)
    draw.ellipse(_box(260, 582, 42, 22), fill=fur, outline=ink, width=2 * SCALE)  # paws
    draw.ellipse(_box(380, 582, 42, 22), fill=fur, outline=ink, width=2 * SCALE)


def render(painter: Callable[[ImageDraw.ImageDraw], None], path: Path) -> None:
    big = Image.new("RGB", (SIZE * SCALE, SIZE * SCALE))
    painter(ImageDraw.Draw(big))
    small = big.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    small.save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    render(draw_cat, OUT / "cat.png")
    render(draw_dog, OUT / "dog.png")
