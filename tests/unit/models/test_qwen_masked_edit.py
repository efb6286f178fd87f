"""Masked edits on the family's tiny twins, through each member's spec and adapter.

* Every pixel outside the mask (beyond the feather) equals Picture 1's; inside, pixels
  change; the output has Picture 1's size (not a multiple of 16 here).
* Parity with diffusers' own inpaint pipeline: ``QwenImageEditInpaintPipeline`` (the one
  Qwen-Image-Edit inpaint pipeline diffusers has; it is built on v1's architecture, and there
  is none for 2509/2511) made from the v1 twin's components gives the same latents-level
  result as editserve's step-callback path on v1, pixel for pixel after the same paste-back.
  Two things of the inpaint pipeline are aligned first, both outside the masking arithmetic:
  its output area (its module's ``calculate_dimensions``, at the test's small area as
  editserve's VAE area does for v1) and its VAE encode (it samples the posterior with the
  generator and multiplies by 1/std; the edit pipelines take the posterior's mode and
  divide by std): its ``_encode_vae_image`` is the edit pipeline's, so both start from the
  same picture latents and the same noise. Mask processing, re-noising
  (``scheduler.scale_noise`` to the next timestep), the blend and the decode are diffusers'.
"""

from __future__ import annotations

import base64
import io
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from editserve.core.settings import Settings
from editserve.models.base import EditResult
from editserve.models.qwen_image_edit.runtime.mask_paste import feathered_alpha, paste_back
from editserve.models.qwen_image_edit.tiny.build import ensure_tiny_weights
from editserve.models.registry import default_registry

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[3]
SMALL_AREA = 128 * 128
STEPS = 3
SIZE = (90, 70)  # Picture 1: no multiple of 16, the output keeps it
BOX = (30, 20, 70, 50)
PROMPT = "Put a red hat in the marked region"


def picture(size: tuple[int, int] = SIZE) -> Image.Image:
    array = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    array[..., 0] = np.linspace(0, 255, size[0], dtype=np.uint8)[None, :]
    array[..., 1] = np.linspace(255, 0, size[1], dtype=np.uint8)[:, None]
    array[..., 2] = 90
    return Image.fromarray(array)


def box_mask(size: tuple[int, int] = SIZE) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, BOX)
    return mask


def outside(mask: Image.Image, feather: int) -> np.ndarray:
    """Pixels farther than `feather` (chessboard) from the mask."""
    edit = np.asarray(mask) > 0
    ys, xs = np.nonzero(edit)
    height, width = edit.shape
    grid_y, grid_x = np.mgrid[0:height, 0:width]
    near = (
        (grid_x >= xs.min() - feather)
        & (grid_x <= xs.max() + feather)
        & (grid_y >= ys.min() - feather)
        & (grid_y <= ys.max() + feather)
    )
    return ~near  # the mask is one box: its chessboard neighbourhood is a bigger box


class Member:
    """A family member's spec and its adapter on its tiny twin, on the CPU."""

    def __init__(self, model_id: str, data_dir: Path) -> None:
        self.spec = default_registry().get(model_id)
        adapter_class = self.spec.adapter_class()
        self.variant = adapter_class.variant
        self.folder = ensure_tiny_weights(
            REPO_ROOT / ".cache" / self.variant.tiny_folder_name, self.variant
        )
        self.settings = Settings(
            data_dir=data_dir, model_weights=str(self.folder), output_area=SMALL_AREA
        )
        self.adapter = adapter_class(self.settings, device="cpu", warmup=False)
        self.adapter.load()

    def edit(self, mask: Image.Image | None, seed: int = 5, **fields: Any) -> EditResult:
        """One request through validation, sizing, the job and the adapter (the mask is
        the last input, as the worker decodes the stored inputs)."""
        body = {
            "prompt": PROMPT,
            "input_image": ["data:image/png;base64,AAAA"],
            "num_inference_steps": STEPS,
            "seed": seed,
            "aspect_ratio": "auto",
            **fields,
        }
        if mask is not None:
            body["mask"] = "data:image/png;base64,AAAA"
        params = self.spec.validate_params(body, self.settings)
        inputs = [picture()] + ([mask.convert("RGB")] if mask is not None else [])
        plan = self.spec.plan_size(params, [image.size for image in inputs], self.settings)
        job = self.spec.build_job(
            params.model_dump(),
            inputs,
            seed=seed,
            width=plan.width,
            height=plan.height,
            area=plan.area,
        )
        return self.adapter.generate(job, lambda step, total: None)


@pytest.fixture(scope="module", params=["qwen-image-edit-plus", "qwen-image-edit-2511"])
def member(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Member:
    return Member(request.param, tmp_path_factory.mktemp("masked"))


@pytest.fixture(scope="module")
def v1(tmp_path_factory: pytest.TempPathFactory) -> Member:
    return Member("qwen-image-edit", tmp_path_factory.mktemp("masked-v1"))


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB")).astype(np.int16)


@pytest.mark.parametrize("feather", [0, 7])
def test_outside_the_mask_every_pixel_is_picture_1s_and_inside_they_change(
    member: Member, feather: int
) -> None:
    result = member.edit(box_mask(), mask_feather=feather)
    assert result.image.size == SIZE
    out, original = pixels(result.image), pixels(picture())
    keep = outside(box_mask(), feather)
    assert np.array_equal(out[keep], original[keep])
    inside = np.asarray(box_mask()) > 0
    assert (out[inside] != original[inside]).any(axis=-1).mean() > 0.9


def test_a_feather_blends_only_the_seam(member: Member) -> None:
    hard = pixels(member.edit(box_mask(), mask_feather=0).image)
    soft = pixels(member.edit(box_mask(), mask_feather=7).image)
    inside = np.asarray(box_mask()) > 0
    assert np.array_equal(hard[inside], soft[inside])  # the edit itself is the same
    seam = ~inside & ~outside(box_mask(), 7)
    assert (soft[seam] != pixels(picture())[seam]).any()  # the seam is blended


def test_the_unmasked_edit_of_the_same_request_differs_outside(member: Member) -> None:
    """Without the mask the picture changes everywhere: the mask is what keeps it."""
    plain = member.edit(None)
    keep = outside(box_mask(), 0)
    resized = pixels(plain.image.resize(SIZE))
    assert (resized[keep] != pixels(picture())[keep]).any(axis=-1).mean() > 0.9


def test_v1_equals_diffusers_inpaint_pipeline(v1: Member, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import QwenImageEditInpaintPipeline, QwenImageEditPipeline
    from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit_inpaint as inpaint

    seed, feather = 21, 4
    ours = v1.edit(box_mask(), seed=seed, mask_feather=feather, negative_prompt=" ")

    pipe: Any = QwenImageEditInpaintPipeline(**v1.adapter.pipeline.components)
    pipe.set_progress_bar_config(disable=True)
    # the same picture latents as the edit pipeline (its VAE mode, divided by std)
    pipe._encode_vae_image = types.MethodType(QwenImageEditPipeline._encode_vae_image, pipe)
    original_dimensions = inpaint.calculate_dimensions
    monkeypatch.setattr(
        inpaint, "calculate_dimensions", lambda _area, ratio: original_dimensions(SMALL_AREA, ratio)
    )
    theirs = pipe(
        image=picture(),
        mask_image=box_mask(),
        prompt=PROMPT,
        negative_prompt=" ",
        true_cfg_scale=4.0,
        strength=1.0,
        num_inference_steps=STEPS,
        generator=torch.Generator(device="cpu").manual_seed(seed),
    ).images[0]
    assert theirs.size != SIZE  # the pipeline's own size: Picture 1's aspect at the area
    composited = paste_back(theirs, picture(), feathered_alpha(box_mask(), feather))
    assert np.array_equal(pixels(ours.image), pixels(composited))


def test_the_receipt_and_a_batch_of_seeds(member: Member) -> None:
    """A masked batch (one call, one generator per seed) gives each seed's single run."""
    job_fields = {"mask_feather": 3}
    singles = [member.edit(box_mask(), seed=seed, **job_fields).image for seed in (1, 2)]
    spec, settings = member.spec, member.settings
    params = spec.validate_params(
        {
            "prompt": PROMPT,
            "input_image": ["data:image/png;base64,AAAA"],
            "mask": "data:image/png;base64," + base64.b64encode(b"x").decode(),
            "num_inference_steps": STEPS,
            **job_fields,
        },
        settings,
    )
    assert params.model_dump()["mask"] == "data:"  # stored as a marker, like input_image's
    inputs = [picture(), box_mask().convert("RGB")]
    plan = spec.plan_size(params, [image.size for image in inputs], settings)
    jobs = [
        spec.build_job(params.model_dump(), inputs, seed=seed, width=plan.width,
                       height=plan.height, area=plan.area)
        for seed in (1, 2)
    ]  # fmt: skip
    results = member.adapter.generate_batch(jobs, lambda step, total: None)
    for single, result in zip(singles, results, strict=True):
        assert np.abs(pixels(single) - pixels(result.image)).max() <= 2
    assert results[0].receipt["width"], results[0].receipt["height"] == SIZE


def test_a_png_round_trip_keeps_the_outside_exact(member: Member) -> None:
    result = member.edit(box_mask())
    buffer = io.BytesIO()
    result.image.save(buffer, format="PNG")
    decoded = pixels(Image.open(io.BytesIO(buffer.getvalue())))
    keep = outside(box_mask(), 0)
    assert np.array_equal(decoded[keep], pixels(picture())[keep])
