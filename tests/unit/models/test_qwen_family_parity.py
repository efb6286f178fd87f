"""Parity of qwen-image-edit-2511 and qwen-image-edit (v1) with a direct diffusers call, and
exact sizes coming out exact on every family member.

Each model's tiny random-weight twin (its real config's differences: 2511's transformer has
``zero_cond_t``, v1 is a ``QwenImageEditPipeline``) is loaded by the model's own adapter
in-process; a request goes through the model's spec (validation, sizing, job) and the
adapter, and must give the pixels of ``<pipeline class>.from_pretrained(folder)`` called
with the same images, prompt, negative prompt, CFG scale, steps, size and seed.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from editserve.core.settings import NATIVE_AREA, Settings
from editserve.models.qwen_image_edit.tiny.build import ensure_tiny_weights
from editserve.models.qwen_image_edit.variant import QwenVariant
from editserve.models.registry import default_registry

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[3]
SMALL_AREA = 128 * 128
STEPS = 2
PROMPT = "Put the person from Picture 1 next to the product in Picture 2"


def _picture(size: tuple[int, int], color: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", size, color)
    for x in range(size[0]):
        image.putpixel((x, (x * 3) % size[1]), (255 - color[0], 20, 200))
    return image


INPUTS = [_picture((64, 48), (200, 30, 40)), _picture((48, 64), (30, 160, 90))]


class Model:
    """One family member: its spec, its adapter on its tiny twin, a direct pipeline."""

    def __init__(self, model_id: str, data_dir: Path, area: int) -> None:
        self.spec = default_registry().get(model_id)
        adapter_class = self.spec.adapter_class()
        self.variant: QwenVariant = adapter_class.variant
        folder = ensure_tiny_weights(
            REPO_ROOT / ".cache" / self.variant.tiny_folder_name, self.variant
        )
        self.settings = Settings(data_dir=data_dir, model_weights=str(folder), output_area=area)
        self.adapter = adapter_class(self.settings, device="cpu", warmup=False)
        self.adapter.load()
        import diffusers

        pipeline_type: Any = getattr(diffusers, self.variant.pipeline_class)
        self.pipe = pipeline_type.from_pretrained(folder, dtype=torch.float32)
        self.pipe.set_progress_bar_config(disable=True)

    def ours(self, images: list[Image.Image], seed: int, **fields: Any) -> tuple[Any, Any]:
        body = {
            "prompt": PROMPT,
            "input_image": ["data:image/png;base64,AAAA"] * len(images),
            "negative_prompt": " ",
            "true_cfg_scale": 4.0,
            "num_inference_steps": STEPS,
            "seed": seed,
            **fields,
        }
        params = self.spec.validate_params(body, self.settings)
        plan = self.spec.plan_size(params, [img.size for img in images], self.settings)
        job = self.spec.build_job(
            params.model_dump(),
            images,
            seed=seed,
            width=plan.width,
            height=plan.height,
            area=plan.area,
        )
        result = self.adapter.generate(job, lambda step, total: None)
        return plan, result

    def theirs(
        self, images: list[Image.Image], seed: int, size: tuple[int, int] | None, vae_area: int
    ) -> np.ndarray:
        kwargs: dict[str, Any] = {}
        if size is not None:
            kwargs["width"], kwargs["height"] = size
        with _plus_vae_area(self.variant, vae_area):
            output = self.pipe(
                image=images if len(images) > 1 else images[0],
                prompt=PROMPT,
                negative_prompt=" ",
                true_cfg_scale=4.0,
                num_inference_steps=STEPS,
                generator=torch.Generator(device="cpu").manual_seed(seed),
                **kwargs,
            )
        return _pixels(output.images[0])


@contextmanager
def _plus_vae_area(variant: QwenVariant, area: int) -> Iterator[None]:
    """The Plus pipeline's VAE copies at `area` (its module constant), as editserve sizes
    them at the output area; v1 has no such constant (its calls here stay at 1 MP)."""
    if not variant.separate_condition_copy:
        assert area == 1024 * 1024
        yield
        return
    module: Any = importlib.import_module(variant.pipeline_module)
    original = module.VAE_IMAGE_SIZE
    module.VAE_IMAGE_SIZE = area
    try:
        yield
    finally:
        module.VAE_IMAGE_SIZE = original


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB")).astype(np.int16)


@pytest.fixture(scope="module")
def model_2511(tmp_path_factory: pytest.TempPathFactory) -> Model:
    return Model("qwen-image-edit-2511", tmp_path_factory.mktemp("m2511"), SMALL_AREA)


@pytest.fixture(scope="module")
def model_v1(tmp_path_factory: pytest.TempPathFactory) -> Model:
    # v1 sizes its one input at ~1 MP itself: the native area keeps the direct call plain
    return Model("qwen-image-edit", tmp_path_factory.mktemp("mv1"), NATIVE_AREA)


def test_the_2511_twin_has_zero_cond_t_and_2509s_pipeline(model_2511: Model) -> None:
    assert model_2511.adapter.pipeline.transformer.config.zero_cond_t is True
    assert type(model_2511.adapter.pipeline).__name__ == "QwenImageEditPlusPipeline"
    assert model_2511.adapter.loaded is not None
    assert model_2511.adapter.loaded.details["model"] == "qwen-image-edit-2511"


@pytest.mark.parametrize("count", [1, 2])
def test_2511_generation_equals_a_direct_pipeline_call(model_2511: Model, count: int) -> None:
    from diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus import calculate_dimensions

    images = INPUTS[:count]
    plan, result = model_2511.ours(images, 500 + count, aspect_ratio="16:9")
    size = calculate_dimensions(SMALL_AREA, 16 / 9)
    assert (plan.width, plan.height) == size
    assert result.receipt["model"] == "qwen-image-edit-2511"
    theirs = model_2511.theirs(images, 500 + count, size, vae_area=SMALL_AREA)
    assert np.array_equal(_pixels(result.image), theirs)


def test_2511_exact_size_is_exact_and_equals_the_direct_call(model_2511: Model) -> None:
    plan, result = model_2511.ours(INPUTS, 9, width=256, height=384)
    assert result.image.size == (256, 384) == (plan.width, plan.height)
    theirs = model_2511.theirs(INPUTS, 9, (256, 384), vae_area=SMALL_AREA)
    assert np.array_equal(_pixels(result.image), theirs)


def test_the_v1_twin_is_a_qwen_image_edit_pipeline(model_v1: Model) -> None:
    assert type(model_v1.adapter.pipeline).__name__ == "QwenImageEditPipeline"
    assert not getattr(model_v1.adapter.pipeline.transformer.config, "zero_cond_t", False)


def test_v1_exact_size_equals_a_direct_pipeline_call(model_v1: Model) -> None:
    images = INPUTS[:1]
    plan, result = model_v1.ours(images, 11, width=256, height=272)
    assert result.image.size == (256, 272) == (plan.width, plan.height)
    assert result.receipt["model"] == "qwen-image-edit"
    theirs = model_v1.theirs(images, 11, (256, 272), vae_area=NATIVE_AREA)
    assert np.array_equal(_pixels(result.image), theirs)


def test_v1_vae_area_follows_the_request(model_v1: Model) -> None:
    """A preview sizes v1's one input below 1 MP too (through the pipeline's sizing)."""
    from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit as module

    original = module.calculate_dimensions
    seen: list[int] = []

    def spy(area: int, ratio: float) -> Any:
        seen.append(area)
        return original(area, ratio)

    module.calculate_dimensions = spy
    try:
        _plan, result = model_v1.ours(INPUTS[:1], 3, width=256, height=256, preview=True)
    finally:
        module.calculate_dimensions = original
    assert result.image.size == (256, 256)
    assert seen == [model_v1.settings.preview_area]
    assert module.calculate_dimensions is original


def test_2509_exact_size_is_exact_and_equals_the_direct_call(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    model = Model("qwen-image-edit-plus", tmp_path_factory.mktemp("m2509"), SMALL_AREA)
    plan, result = model.ours(INPUTS, 21, width=384, height=256, aspect_ratio="9:16")
    assert result.image.size == (384, 256) == (plan.width, plan.height)
    assert result.receipt["model"] == "qwen-image-edit-plus"
    theirs = model.theirs(INPUTS, 21, (384, 256), vae_area=SMALL_AREA)
    assert np.array_equal(_pixels(result.image), theirs)
