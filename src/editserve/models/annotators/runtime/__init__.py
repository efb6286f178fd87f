"""The annotators' computing side (OpenCV, torch, transformers): workers only, never the API
process.

    compute_map(picture, parse_options({"type": "canny"}))                     # OpenCV
    compute_map(picture, DepthOptions(), device="cuda", weights_root=None)     # hub weights
    compute_map(picture, PoseOptions(), weights_root=tiny_folder)              # tiny twins

Each returns the map as an RGB picture of the input's size.

    classical.py  canny, lineart, scribble, gray (OpenCV)
    depth.py      Depth-Anything-V2-Small
    pose.py       RT-DETR person boxes → ViTPose keypoints → the OpenPose skeleton
    skeleton.py   COCO-17 → OpenPose-18 and its drawing
    loading.py    one from_pretrained path for real and tiny weights, kept loaded
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from editserve.models.annotators.options import AnnotatorOptions, DepthOptions, PoseOptions


def compute_map(
    image: Image.Image,
    options: AnnotatorOptions,
    *,
    device: str = "cpu",
    weights_root: Path | None = None,
) -> Image.Image:
    """The control map of ``image`` for ``options.type``: RGB, the input's size.

    ``device`` matters for depth and pose only; ``weights_root`` is None for the hub
    weights (the Hugging Face cache) or the folder of the tiny twins.
    """
    if isinstance(options, DepthOptions):
        from editserve.models.annotators.runtime.depth import depth

        return depth(image, options, device, weights_root)
    if isinstance(options, PoseOptions):
        from editserve.models.annotators.runtime.pose import pose

        return pose(image, options, device, weights_root)
    from editserve.models.annotators.runtime import classical

    compute = getattr(classical, options.type)
    result: Image.Image = compute(image, options)
    return result


__all__ = ["compute_map"]
