"""The OpenPose skeleton: COCO-17 → OpenPose-18 (the neck from the shoulders), and the limbs
and joints drawn in ControlNet's colors at the expected places."""

from __future__ import annotations

import math

import numpy as np
from fixtures.annotators import pixels

from editserve.models.annotators.runtime.skeleton import coco_to_openpose, draw_openpose

# COCO order: nose, eyes (l, r), ears (l, r), shoulders, elbows, wrists, hips, knees, ankles
COCO = np.array(
    [
        (100, 30), (105, 25), (95, 25), (110, 28), (90, 28),
        (130, 60), (70, 60), (150, 100), (50, 100), (160, 140), (40, 140),
        (120, 130), (80, 130), (122, 165), (78, 165), (124, 192), (76, 192),
    ],
    dtype=float,
)  # fmt: skip
SURE = np.ones(17)
RIGHT_ELBOW = 8  # COCO index


def at(image: np.ndarray, x: int, y: int) -> tuple[int, ...]:
    return tuple(int(v) for v in image[y, x])


def test_coco_maps_onto_openpose_with_the_neck_between_the_shoulders() -> None:
    points = coco_to_openpose(COCO, SURE, 0.3)
    assert points.shape == (18, 2)
    assert tuple(points[1]) == (100, 60)  # neck: the shoulders' midpoint
    assert tuple(points[0]) == (100, 30)  # nose
    assert tuple(points[2]) == (70, 60) and tuple(points[5]) == (130, 60)  # right, left shoulder
    assert tuple(points[4]) == (40, 140) and tuple(points[7]) == (160, 140)  # wrists
    assert tuple(points[14]) == (95, 25) and tuple(points[17]) == (110, 28)  # r eye, l ear


def test_unsure_keypoints_are_absent_and_the_neck_needs_both_shoulders() -> None:
    scores = SURE.copy()
    scores[RIGHT_ELBOW] = 0.1
    points = coco_to_openpose(COCO, scores, 0.3)
    assert np.isnan(points[3]).all() and not np.isnan(points[4]).any()
    scores[6] = 0.2  # the right shoulder
    points = coco_to_openpose(COCO, scores, 0.3)
    assert np.isnan(points[1]).all() and np.isnan(points[2]).all()
    assert not np.isnan(points[5]).any()


def test_limbs_and_joints_have_their_colors_where_they_belong() -> None:
    image = pixels(draw_openpose((200, 200), [coco_to_openpose(COCO, SURE, 0.3)]))
    assert image.shape == (200, 200, 3)
    # limbs at 60 % of their color, at the middle of the segment
    assert at(image, 85, 60) == (153, 0, 0)  # limb 0: neck → right shoulder
    assert at(image, 115, 60) == (153, 51, 0)  # limb 1: neck → left shoulder
    assert at(image, 60, 80) == (153, 102, 0)  # limb 2: right shoulder → right elbow
    assert at(image, 155, 120) == (51, 153, 0)  # limb 5: left elbow → left wrist
    assert at(image, 100, 45) == (0, 0, 153)  # limb 12: neck → nose
    # joints at their full color
    assert at(image, 100, 60) == (255, 85, 0)  # the neck
    assert at(image, 50, 100) == (255, 255, 0)  # right elbow
    assert at(image, 40, 140) == (170, 255, 0)  # right wrist
    assert at(image, 78, 165) == (0, 255, 255)  # right knee (OpenPose 9)
    assert at(image, 76, 192) == (0, 170, 255)  # right ankle (OpenPose 10)
    assert at(image, 190, 10) == (0, 0, 0) and at(image, 5, 195) == (0, 0, 0)


def test_a_missing_keypoint_takes_its_limbs_away() -> None:
    scores = SURE.copy()
    scores[RIGHT_ELBOW] = 0.0
    image = pixels(draw_openpose((200, 200), [coco_to_openpose(COCO, scores, 0.3)]))
    assert at(image, 60, 80) == (0, 0, 0)  # shoulder → elbow gone
    assert at(image, 45, 120) == (0, 0, 0)  # elbow → wrist gone
    assert at(image, 40, 140) == (170, 255, 0)  # the wrist itself stays
    assert at(image, 155, 120) == (51, 153, 0)  # the other arm stays


def test_several_people_and_none() -> None:
    shifted = COCO.copy()
    shifted[:, 0] += 200
    people = [coco_to_openpose(c, SURE, 0.3) for c in (COCO, shifted)]
    image = pixels(draw_openpose((400, 200), people))
    assert at(image, 60, 80) == at(image, 260, 80) == (153, 102, 0)
    assert not pixels(draw_openpose((64, 32), [])).any()
    assert not math.isnan(people[1][1][0])
