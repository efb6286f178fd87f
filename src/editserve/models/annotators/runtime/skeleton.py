"""The OpenPose body skeleton, as ControlNet's pose maps draw it (controlnet_aux, ComfyUI):
the 18 OpenPose COCO keypoints, 17 limbs as ellipses in their colors at 60 % on black, then
each keypoint as a full-color dot. COCO's 17 keypoints (what ViTPose predicts) map onto it,
the neck being the shoulders' midpoint.

OpenPose order: 0 nose, 1 neck, 2-4 right shoulder/elbow/wrist, 5-7 left shoulder/elbow/
wrist, 8-10 right hip/knee/ankle, 11-13 left hip/knee/ankle, 14 right eye, 15 left eye,
16 right ear, 17 left ear.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image

# OpenPose keypoint i comes from COCO keypoint COCO_FOR_OPENPOSE[i] (the neck: None).
COCO_FOR_OPENPOSE: tuple[int | None, ...] = (
    0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3,
)  # fmt: skip
NECK = 1
COCO_LEFT_SHOULDER, COCO_RIGHT_SHOULDER = 5, 6

# The limbs as pairs of OpenPose keypoints, in drawing order; limb i has COLORS[i].
LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip
# RGB; keypoint i is drawn in COLORS[i], limb i in COLORS[i] at LIMB_SHADE.
COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)  # fmt: skip
LIMB_SHADE = 0.6
STICK_WIDTH = 4
JOINT_RADIUS = 4


def coco_to_openpose(keypoints: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """COCO-17 (x, y) keypoints with scores → OpenPose-18 (x, y), NaN where a keypoint
    scored below ``threshold`` (the neck needs both shoulders)."""
    points = np.asarray(keypoints, dtype=np.float64).reshape(17, 2)
    kept = np.asarray(scores, dtype=np.float64).reshape(17) >= threshold
    out = np.full((18, 2), np.nan)
    for target, source in enumerate(COCO_FOR_OPENPOSE):
        if source is not None and kept[source]:
            out[target] = points[source]
    if kept[COCO_LEFT_SHOULDER] and kept[COCO_RIGHT_SHOULDER]:
        out[NECK] = (points[COCO_LEFT_SHOULDER] + points[COCO_RIGHT_SHOULDER]) / 2
    return out


def draw_openpose(size: tuple[int, int], people: Sequence[np.ndarray]) -> Image.Image:
    """The skeletons of ``people`` (each an (18, 2) array of pixel (x, y), NaN = absent) on
    a black RGB picture of ``size`` (width, height)."""
    width, height = size
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    for index, (a, b) in enumerate(LIMBS):
        for person in people:
            if np.isnan(person[[a, b]]).any():
                continue
            _limb(canvas, person[a], person[b], COLORS[index])
    canvas = (canvas * LIMB_SHADE).astype(np.uint8)
    for index, color in enumerate(COLORS):
        for person in people:
            x, y = person[index]
            if math.isnan(x) or math.isnan(y):
                continue
            cv2.circle(canvas, (int(x), int(y)), JOINT_RADIUS, color, thickness=-1)
    return Image.fromarray(canvas)


def _limb(canvas: np.ndarray, start: np.ndarray, end: np.ndarray, color: tuple[int, ...]) -> None:
    (x0, y0), (x1, y1) = start, end
    length = math.hypot(x1 - x0, y1 - y0)
    angle = math.degrees(math.atan2(y0 - y1, x0 - x1))
    center = (int((x0 + x1) / 2), int((y0 + y1) / 2))
    polygon = cv2.ellipse2Poly(center, (int(length / 2), STICK_WIDTH), int(angle), 0, 360, 1)
    cv2.fillConvexPoly(canvas, np.asarray(polygon, dtype=np.int32), color)


__all__ = [
    "COCO_FOR_OPENPOSE",
    "COLORS",
    "LIMBS",
    "LIMB_SHADE",
    "coco_to_openpose",
    "draw_openpose",
]
