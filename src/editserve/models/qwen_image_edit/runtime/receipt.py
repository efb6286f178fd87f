"""The receipt of one generated image: what ran, with what, to make it (JSON-able)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from editserve.models.base import EditJob
from editserve.models.qwen_image_edit.runtime.call import PipelineCall, pipeline_dimensions

if TYPE_CHECKING:
    from editserve.models.qwen_image_edit.runtime.loading import LoadedPipeline


def edit_receipt(
    job: EditJob, call: PipelineCall, state: LoadedPipeline, *, index: int, batch_size: int
) -> dict[str, Any]:
    """The receipt of image `index` of a call that made `batch_size` images."""
    loaded = state.loaded
    images = call.inputs
    cfg_active = job.true_cfg_scale > 1 and job.negative_prompt is not None
    inputs: dict[str, Any] = {
        "num_input_images": len(images),
        "input_sizes": [list(img.size) for img in images],
    }
    if state.variant.takes_images:  # a text-to-image member has no VAE copies of inputs
        inputs["vae_area"] = job.vae_area
        inputs["vae_input_sizes"] = [
            list(pipeline_dimensions(job.vae_area, img.size[0] / img.size[1])) for img in images
        ]
    # the model's own arguments (a layered model's layers, resolution...)
    inputs.update(dict(job.pipeline_args))
    return {
        "model": state.variant.model_id,
        "weights": loaded.source,
        "revision": loaded.revision,
        "weights_hash": (state.weights_hash or {}).get("sha256"),
        "is_tiny": loaded.is_tiny,
        "device": loaded.device,
        "dtype": loaded.dtype,
        "width": job.width,
        "height": job.height,
        "steps": job.num_inference_steps,
        "true_cfg_scale": job.true_cfg_scale,
        "cfg": cfg_active,
        "seed": job.seed,
        "negative_prompt": job.negative_prompt,
        **inputs,
        "scheduler": call.scheduler,
        "options": state.in_force,
        "versions": dict(state.versions),
        "batch": {"size": batch_size, "index": index},
    }
