"""The depth annotator: Depth-Anything-V2-Small through transformers
(``DepthAnythingForDepthEstimation`` and its DPT image processor). Its output is relative
inverse depth (larger = nearer), resized to the input and scaled to 0-255: near is bright,
far is dark, as ControlNet depth maps are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from editserve.models.annotators.options import DepthOptions
from editserve.models.annotators.registry import DEPTH_WEIGHTS
from editserve.models.annotators.runtime.loading import load_checkpoint


def depth(
    image: Image.Image,
    options: DepthOptions,
    device: str = "cpu",
    weights_root: Path | None = None,
) -> Image.Image:
    import torch
    from transformers import DepthAnythingForDepthEstimation

    loaded = load_checkpoint(DepthAnythingForDepthEstimation, DEPTH_WEIGHTS, device, weights_root)
    rgb = image.convert("RGB")
    inputs = loaded.processor(images=rgb, return_tensors="pt")
    pixels = inputs["pixel_values"].to(loaded.device, loaded.dtype)
    with torch.inference_mode():
        outputs = loaded.model(pixel_values=pixels)
        outputs.predicted_depth = outputs.predicted_depth.float()
        result = loaded.processor.post_process_depth_estimation(
            outputs, target_sizes=[(rgb.height, rgb.width)]
        )[0]["predicted_depth"]
    return to_gray_map(result.cpu().numpy())


def to_gray_map(values: np.ndarray) -> Image.Image:
    """Min-max scale to 0-255 (a flat field is black), as an RGB picture."""
    values = np.nan_to_num(values.astype(np.float64))
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) * 255.0 if high > low else np.zeros_like(values)
    gray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(np.stack([gray] * 3, axis=-1))


__all__ = ["depth", "to_gray_map"]
