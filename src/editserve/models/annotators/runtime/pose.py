"""The pose annotator: people's boxes from RT-DETR (``RTDetrForObjectDetection``), their 17
COCO body keypoints from ViTPose (``VitPoseForPoseEstimation``, top-down on each box), drawn
as the OpenPose skeleton on black (skeleton.py). No person found: a black map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from editserve.models.annotators.options import PoseOptions
from editserve.models.annotators.registry import POSE_DETECTOR_WEIGHTS, POSE_KEYPOINT_WEIGHTS
from editserve.models.annotators.runtime.loading import Checkpoint, load_checkpoint
from editserve.models.annotators.runtime.skeleton import coco_to_openpose, draw_openpose

PERSON = "person"
MIN_BOX_SIDE = 2.0  # pixels: a thinner box has no pose to find


def pose(
    image: Image.Image,
    options: PoseOptions,
    device: str = "cpu",
    weights_root: Path | None = None,
) -> Image.Image:
    rgb = image.convert("RGB")
    people = detect_keypoints(rgb, options, device, weights_root)
    return draw_openpose(rgb.size, people)


def detect_keypoints(
    rgb: Image.Image, options: PoseOptions, device: str, weights_root: Path | None
) -> list[np.ndarray]:
    """Each person's OpenPose-18 keypoints in pixels (NaN: not found)."""
    boxes = person_boxes(rgb, options, device, weights_root)
    if not boxes:
        return []
    keypoints, scores = body_keypoints(rgb, boxes, device, weights_root)
    return [
        coco_to_openpose(k, s, options.keypoint_threshold)
        for k, s in zip(keypoints, scores, strict=True)
    ]


def person_boxes(
    rgb: Image.Image, options: PoseOptions, device: str, weights_root: Path | None
) -> list[list[float]]:
    """COCO (x, y, width, height) boxes of people, best first, at most ``max_people``."""
    import torch
    from transformers import RTDetrForObjectDetection

    loaded = load_checkpoint(RTDetrForObjectDetection, POSE_DETECTOR_WEIGHTS, device, weights_root)
    person = _person_label(loaded.model.config)
    with torch.inference_mode():
        outputs = loaded.model(pixel_values=_pixels(loaded, images=rgb))
        outputs.logits, outputs.pred_boxes = outputs.logits.float(), outputs.pred_boxes.float()
        found = loaded.processor.post_process_object_detection(
            outputs,
            target_sizes=[(rgb.height, rgb.width)],
            threshold=options.detection_threshold,
        )[0]
    ranked = sorted(
        zip(
            found["scores"].tolist(), found["labels"].tolist(), found["boxes"].tolist(), strict=True
        ),
        key=lambda item: -item[0],
    )
    boxes = []
    for _score, label, (x0, y0, x1, y1) in ranked:
        x0, x1 = max(0.0, x0), min(float(rgb.width), x1)
        y0, y1 = max(0.0, y0), min(float(rgb.height), y1)
        if label == person and x1 - x0 >= MIN_BOX_SIDE and y1 - y0 >= MIN_BOX_SIDE:
            boxes.append([x0, y0, x1 - x0, y1 - y0])
    return boxes[: options.max_people]


def body_keypoints(
    rgb: Image.Image, boxes: list[list[float]], device: str, weights_root: Path | None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(keypoints (17, 2) in pixels, scores (17,)) per box."""
    import torch
    from transformers import VitPoseForPoseEstimation

    loaded = load_checkpoint(VitPoseForPoseEstimation, POSE_KEYPOINT_WEIGHTS, device, weights_root)
    box_array = np.asarray([boxes], dtype=np.float32)
    with torch.inference_mode():
        outputs = loaded.model(pixel_values=_pixels(loaded, images=rgb, boxes=box_array))
        outputs.heatmaps = outputs.heatmaps.float()
        found = loaded.processor.post_process_pose_estimation(outputs, boxes=box_array)[0]
    keypoints = [person["keypoints"].cpu().numpy() for person in found]
    scores = [person["scores"].cpu().numpy() for person in found]
    return keypoints, scores


def _pixels(loaded: Checkpoint, **inputs: Any) -> Any:
    batch = loaded.processor(return_tensors="pt", **inputs)
    return batch["pixel_values"].to(loaded.device, loaded.dtype)


def _person_label(config: Any) -> int:
    """The detector's class id of a person (0 in COCO's order)."""
    for index, name in (config.id2label or {}).items():
        if str(name).lower() == PERSON:
            return int(index)
    return 0


__all__ = ["body_keypoints", "detect_keypoints", "person_boxes", "pose"]
