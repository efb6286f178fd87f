"""build_job / warmup_job: a stored request's params become an EditJob (no model needed)."""

from __future__ import annotations

from PIL import Image

from editserve.models.qwen_image_edit.request.jobs import WARMUP_SIZE, build_job, warmup_job
from editserve.models.qwen_image_edit.request.schema import QwenImageEditPlusParams


def _images() -> list[Image.Image]:
    return [Image.new("RGB", (32, 32), (1, 2, 3)), Image.new("RGB", (48, 32))]


def test_missing_params_take_the_schema_defaults() -> None:
    fields = QwenImageEditPlusParams.model_fields
    images = _images()
    job = build_job({"prompt": "make it blue"}, images, seed=5, width=96, height=64, area=4096)
    assert job.prompt == "make it blue"
    assert job.negative_prompt == fields["negative_prompt"].default
    assert job.num_inference_steps == fields["num_inference_steps"].default
    assert job.true_cfg_scale == fields["true_cfg_scale"].default
    assert job.images is images


def test_validated_params_of_a_request_pass_through() -> None:
    params = QwenImageEditPlusParams.model_validate(
        {
            "prompt": "add a hat",
            "input_image": ["https://example.com/a.png"],
            "negative_prompt": "blurry",
            "num_inference_steps": 8,
            "true_cfg_scale": 1.0,
            "seed": 99,  # the generation's seed is an argument, not this one
        }
    ).model_dump()
    job = build_job(params, _images(), seed=7, width=128, height=96, area=128 * 128)
    assert (job.prompt, job.negative_prompt) == ("add a hat", "blurry")
    assert (job.num_inference_steps, job.true_cfg_scale) == (8, 1.0)
    assert (job.seed, job.width, job.height, job.vae_area) == (7, 128, 96, 128 * 128)


def test_warmup_job() -> None:
    job = warmup_job(96, 64)
    assert (job.prompt, job.seed, job.num_inference_steps, job.true_cfg_scale) == (
        "warm up",
        0,
        2,
        4.0,
    )
    assert (job.width, job.height, job.vae_area) == (96, 64, 96 * 64)
    assert job.negative_prompt == QwenImageEditPlusParams.model_fields["negative_prompt"].default
    [image] = job.images
    assert image.size == (WARMUP_SIZE, WARMUP_SIZE) == (64, 64)
    assert image.mode == "RGB" and image.getpixel((0, 0)) == (127, 127, 127)
