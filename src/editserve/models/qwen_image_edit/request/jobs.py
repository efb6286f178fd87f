"""The jobs of the Qwen-Image family, built in one place.

A stored request's validated params (the fields of a member's request model) become an
:class:`EditJob`; a field the params lack takes the request model's default, so the schema
stays the one source of defaults. Text-to-image members get the same jobs without images.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from PIL import Image
from pydantic import BaseModel

from editserve.models.base import EditJob
from editserve.models.qwen_image_edit.request.schema import QwenImageEditPlusParams

# The warm-up run's input: a small grey picture.
WARMUP_SIZE = 64
_WARMUP_PARAMS: dict[str, Any] = {
    "prompt": "warm up",
    "num_inference_steps": 2,
    "true_cfg_scale": 4.0,
}


def job_builder(
    params_model: type[BaseModel], pipeline_args: tuple[str, ...] = ()
) -> Callable[..., EditJob]:
    """The ``build_job`` of a family member whose request model is `params_model` (a field
    a stored request lacks takes that model's default); the request fields named in
    `pipeline_args` go to the pipeline call as they are (e.g. a layered model's
    ``layers``)."""

    def default(name: str) -> Any:
        return params_model.model_fields[name].default

    def build_job(
        params: Mapping[str, Any],
        images: list[Image.Image],
        *,
        seed: int,
        width: int,
        height: int,
        area: int,
    ) -> EditJob:
        """The job for one output image of a request.

        `params` are the request's validated fields (``prompt`` is required); `seed`, the
        output size and the VAE `area` are the ones planned for this generation. A masked
        edit's mask is its last input (stored after the pictures, at Picture 1's size).
        """
        mask = None
        if params.get("mask"):
            *images, last = images
            mask = last.convert("L")
        return EditJob(
            prompt=params["prompt"],
            images=images,
            width=width,
            height=height,
            seed=seed,
            negative_prompt=params.get("negative_prompt", default("negative_prompt")),
            num_inference_steps=params.get("num_inference_steps", default("num_inference_steps")),
            true_cfg_scale=params.get("true_cfg_scale", default("true_cfg_scale")),
            vae_area=area,
            loras=tuple(
                (str(lora["path"]), float(lora.get("scale", 1.0)))
                for lora in params.get("loras") or ()
            ),
            pipeline_args=tuple((name, params.get(name, default(name))) for name in pipeline_args),
            mask=mask,
            mask_feather=int(params.get("mask_feather") or 0) if mask is not None else 0,
        )

    return build_job


build_job = job_builder(QwenImageEditPlusParams)


def warmup_job(width: int, height: int, *, with_image: bool = True) -> EditJob:
    """The warm-up run's job: a short edit of a grey picture at `width` x `height` (or,
    without `with_image`, a text-to-image run: no picture)."""
    images = [Image.new("RGB", (WARMUP_SIZE, WARMUP_SIZE), (127, 127, 127))] if with_image else []
    return build_job(
        _WARMUP_PARAMS, images, seed=0, width=width, height=height, area=width * height
    )
