"""The OpenCV annotators on drawn pictures: a white square on black, flat colors."""

from __future__ import annotations

import numpy as np
from fixtures.annotators import pixels, white_square
from PIL import Image
from scipy import ndimage

from editserve.models.annotators.options import parse_options
from editserve.models.annotators.runtime import compute_map

BOX = (30, 16, 69, 47)  # left, top, right, bottom (inclusive)


def mask_of(kind: str, picture: Image.Image | None = None, **options: object) -> np.ndarray:
    picture = picture or white_square(box=BOX)
    out = compute_map(picture, parse_options({"type": kind, **options}))
    assert out.mode == "RGB" and out.size == picture.size
    values = pixels(out)
    assert set(np.unique(values)) <= {0, 255}, "a binary map"
    assert (values[..., 0] == values[..., 1]).all() and (values[..., 1] == values[..., 2]).all()
    return values[..., 0] == 255


def boundary_distance(shape: tuple[int, int]) -> np.ndarray:
    """Each pixel's distance (chessboard) to the square's outline."""
    left, top, right, bottom = BOX
    inside = np.zeros(shape, dtype=bool)
    inside[top : bottom + 1, left : right + 1] = True
    outline = inside & ~ndimage.binary_erosion(inside)
    return ndimage.distance_transform_cdt(~outline, metric="chessboard")


def sides_touched(mask: np.ndarray, reach: int) -> dict[str, bool]:
    left, top, right, bottom = BOX
    middle_x, middle_y = (left + right) // 2, (top + bottom) // 2
    return {
        "top": mask[top - reach : top + reach + 1, middle_x].any(),
        "bottom": mask[bottom - reach : bottom + reach + 1, middle_x].any(),
        "left": mask[middle_y, left - reach : left + reach + 1].any(),
        "right": mask[middle_y, right - reach : right + reach + 1].any(),
    }


def test_canny_finds_the_square_edges_and_nothing_else() -> None:
    edges = mask_of("canny")
    assert edges.any()
    assert (boundary_distance(edges.shape)[edges] <= 1).all(), "an edge away from the outline"
    assert all(sides_touched(edges, 1).values())
    assert not edges[22:42, 36:64].any(), "the flat inside has no edge"


def test_canny_thresholds_matter() -> None:
    faint = white_square(box=BOX).point(lambda v: v // 8)  # a step of 31 levels
    assert mask_of("canny", faint, low_threshold=10, high_threshold=20).any()
    assert not mask_of("canny", faint, low_threshold=200, high_threshold=255).any()


def test_lineart_draws_white_lines_along_the_outline() -> None:
    lines = mask_of("lineart")
    assert all(sides_touched(lines, 2).values())
    reach = 11 // 2 + 2  # half the block, plus the light blur
    assert (boundary_distance(lines.shape)[lines] <= reach).all()
    assert not lines[22:42, 36:64].any(), "the square's inside stays black"
    assert not lines[:, :12].any(), "the black far from the square stays black"


def test_scribble_strokes_are_thicker_than_edges_and_follow_the_thickness() -> None:
    edges = mask_of("canny")
    thin = mask_of("scribble", thickness=3)
    thick = mask_of("scribble", thickness=9)
    assert all(sides_touched(thin, 1).values())
    assert thin.sum() > 2 * edges.sum()
    assert thick.sum() > thin.sum() * 1.5
    assert (boundary_distance(thick.shape)[thick] <= 9 // 2 + 2).all()
    assert not thick[26:38, 42:58].any()


def test_gray_is_the_luma_in_three_equal_channels() -> None:
    colors = {(255, 0, 0): 76, (0, 255, 0): 150, (0, 0, 255): 29, (255, 255, 255): 255}
    for color, luma in colors.items():
        out = compute_map(Image.new("RGB", (8, 4), color), parse_options({"type": "gray"}))
        assert out.mode == "RGB" and out.size == (8, 4)
        assert (pixels(out) == luma).all(), (color, np.unique(pixels(out)))


def test_any_picture_mode_gives_an_rgb_map_of_its_size() -> None:
    rgba = white_square(box=BOX).convert("RGBA")
    gray = white_square(box=BOX).convert("L")
    for picture in (rgba, gray):
        for kind in ("canny", "lineart", "scribble", "gray"):
            out = compute_map(picture, parse_options({"type": kind}))
            assert out.mode == "RGB" and out.size == picture.size
