"""The OpenCV annotators: canny, lineart, scribble, gray. Each takes an RGB picture and its
options and returns the map as an RGB picture of the same size (white on black, as
ControlNet's edge and line maps are). Workers only: imports OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from editserve.models.annotators.options import (
    CannyOptions,
    GrayOptions,
    LineartOptions,
    ScribbleOptions,
)

# scribble: the edges of a lightly blurred picture, at fixed thresholds (its option is the
# stroke width); the blur drops texture so the strokes follow shapes
SCRIBBLE_BLUR = 5
SCRIBBLE_THRESHOLDS = (60, 150)
# lineart: a light blur first, so sensor noise does not become dots
LINEART_BLUR = 3


def luma(image: Image.Image) -> np.ndarray:
    """The picture's luma as a contiguous uint8 array (height, width)."""
    rgb = np.asarray(image.convert("RGB"))
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def as_rgb(single: np.ndarray) -> Image.Image:
    return Image.fromarray(cv2.cvtColor(single, cv2.COLOR_GRAY2RGB))


def canny(image: Image.Image, options: CannyOptions) -> Image.Image:
    edges = cv2.Canny(luma(image), options.low_threshold, options.high_threshold)
    return as_rgb(edges)


def lineart(image: Image.Image, options: LineartOptions) -> Image.Image:
    """Pixels darker than their neighbourhood's mean by ``offset`` become white lines:
    OpenCV's adaptive threshold (inverted) of the lightly blurred luma. A classical
    approximation of line art, not the neural line-art annotator."""
    gray = cv2.GaussianBlur(luma(image), (LINEART_BLUR, LINEART_BLUR), 0)
    lines = cv2.adaptiveThreshold(
        gray,
        255,
        cv2.ADAPTIVE_THRESH_MEAN_C,
        cv2.THRESH_BINARY_INV,
        options.block_size,
        options.offset,
    )
    return as_rgb(lines)


def scribble(image: Image.Image, options: ScribbleOptions) -> Image.Image:
    gray = cv2.GaussianBlur(luma(image), (SCRIBBLE_BLUR, SCRIBBLE_BLUR), 0)
    edges = cv2.Canny(gray, *SCRIBBLE_THRESHOLDS)
    if options.thickness > 1:
        kernel = cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (options.thickness, options.thickness)
        )
        edges = cv2.dilate(edges, kernel)
    return as_rgb(edges)


def gray(image: Image.Image, options: GrayOptions) -> Image.Image:
    return as_rgb(luma(image))


def opencv_version() -> str:
    return str(cv2.__version__)


__all__ = ["as_rgb", "canny", "gray", "lineart", "luma", "opencv_version", "scribble"]
