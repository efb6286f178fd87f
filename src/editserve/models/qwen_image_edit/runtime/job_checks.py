"""Checks of the jobs of one pipeline call: their input images, that a batch's jobs differ
only in their seed, and what the pipeline would silently round or fail on deep inside."""

from __future__ import annotations

import logging
from typing import Any

from editserve.models.base import EditJob
from editserve.models.qwen_image_edit.request.sizing import CONDITION_AREA, pipeline_dimensions
from editserve.models.qwen_image_edit.variant import QwenVariant

logger = logging.getLogger("editserve.model")

# The pipeline floors height/width to multiples of vae_scale_factor * 2.
SIZE_MULTIPLE = 16
# Smallest VAE area we accept (one 32x32 tile; Settings refuses smaller output areas).
MIN_VAE_AREA = 32 * 32


def validated_images(job: EditJob, variant: QwenVariant) -> list[Any]:
    """The job's input images, converted to RGB where needed (a text-to-image member takes
    none; a layered member takes its RGB input as opaque RGBA, as Qwen's own app does)."""
    if not variant.takes_images:
        if job.images:
            raise ValueError(f"{variant.model_id} makes pictures from a prompt alone: no images")
        return []
    if not job.images:
        raise ValueError("an edit needs at least one input image")
    images = []
    for index, image in enumerate(job.images):
        if image.mode != "RGB":
            # The VAE only takes 3 channels; the inputs module should already give RGB.
            logger.warning("input image %d is %s, converting to RGB", index + 1, image.mode)
            image = image.convert("RGB")
        images.append(image.convert("RGBA") if variant.layered else image)
    return images


def check_batchable(jobs: list[EditJob]) -> None:
    """A batch is one pipeline call: its jobs may differ in nothing but the seed."""
    first = jobs[0]
    for other in jobs[1:]:
        same = (
            other.prompt == first.prompt
            and other.negative_prompt == first.negative_prompt
            and other.width == first.width
            and other.height == first.height
            and other.num_inference_steps == first.num_inference_steps
            and other.true_cfg_scale == first.true_cfg_scale
            and other.vae_area == first.vae_area
            and other.loras == first.loras
            and other.mask_feather == first.mask_feather
            and (other.mask is first.mask or other.mask == first.mask)
            and len(other.images) == len(first.images)
            and all(a is b or a == b for a, b in zip(other.images, first.images, strict=True))
        )
        if not same:
            raise ValueError("jobs of one batch must differ only in their seed")


def validate_job(job: EditJob) -> None:
    """Refuse what the pipeline would silently round, or fail on deep inside."""
    if job.num_inference_steps < 1:
        raise ValueError("num_inference_steps must be at least 1")
    # A masked edit's output is Picture 1's size, any size: the pipeline runs at Picture
    # 1's VAE copy (multiples of 32) and the result is composited over it (mask_blend.py).
    exact = () if job.mask is not None else (("width", job.width), ("height", job.height))
    for name, value in exact:
        if value < SIZE_MULTIPLE or value % SIZE_MULTIPLE:
            raise ValueError(
                f"{name} {value} must be a positive multiple of {SIZE_MULTIPLE} "
                "(the pipeline would silently round it down)"
            )
    if job.vae_area < MIN_VAE_AREA:
        raise ValueError(f"vae_area {job.vae_area} is below the minimum {MIN_VAE_AREA}")
    for index, image in enumerate(job.images):
        ratio = image.size[0] / image.size[1]
        for area_name, area in (("VAE", job.vae_area), ("condition", CONDITION_AREA)):
            w, h = pipeline_dimensions(area, ratio)
            if w < 32 or h < 32:
                raise ValueError(
                    f"input image {index + 1} ({image.size[0]}x{image.size[1]}) is too "
                    f"elongated: its {area_name} copy would be {w}x{h} pixels"
                )
