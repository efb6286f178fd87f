"""qwen-image-layered on its tiny twin (no fake pipeline anywhere): the twin is a
``QwenImageLayeredPipeline`` folder with the real configs' differences (the layered
transformer flags, the RGBA VAE) and the family's other components byte for byte; a request
through the model's spec (validation, sizing, job) and its adapter gives the layers of
``QwenImageLayeredPipeline.from_pretrained(folder)(...)`` with the same seed and
parameters, with a prompt at the pipeline's own size and without one (the model captions
the picture) at a small one; the layers come in order, RGBA, of the planned size. 2 steps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fixtures.qwen import ignore_steps, picture, pixels
from PIL import Image

from editserve.core.settings import Settings
from editserve.models.base import EditJob, EditResult, GenerationCancelled
from editserve.models.qwen_image_edit.members import EDIT_2509
from editserve.models.qwen_image_edit.tiny.build import ensure_tiny_weights, is_complete
from editserve.models.qwen_image_edit.variant import QwenVariant
from editserve.models.qwen_image_layered.members import LAYERED
from editserve.models.qwen_image_layered.tiny import main as tiny_main
from editserve.models.registry import default_registry

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[3]
TINY_AREA = 64 * 64
PROMPT = "a red poster with a green line"
SHARED = ("text_encoder", "tokenizer", "processor", "scheduler")
PIPELINE_MODULE = "diffusers.pipelines.qwenimage.pipeline_qwenimage_layered"


def _twin(variant: QwenVariant) -> Path:
    return ensure_tiny_weights(REPO_ROOT / ".cache" / variant.tiny_folder_name, variant)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _direct(folder: Path) -> Any:
    from diffusers import QwenImageLayeredPipeline

    pipe: Any = QwenImageLayeredPipeline.from_pretrained(folder, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return pipe


class Model:
    """qwen-image-layered: its spec, its adapter on its twin, the settings."""

    def __init__(self, data_dir: Path, **settings: Any) -> None:
        self.spec = default_registry().get("qwen-image-layered")
        self.folder = _twin(LAYERED)
        self.settings = Settings(data_dir=data_dir, model_weights=str(self.folder), **settings)
        self.adapter = self.spec.adapter_class()(self.settings, device="cpu", warmup=False)
        self.adapter.load()

    def job(self, image: Image.Image, seed: int = 3, **fields: Any) -> EditJob:
        """The job of a request, made the way the API and the worker make it."""
        body = {"input_image": "https://x.test/p.png", "num_inference_steps": 2, **fields}
        params = self.spec.validate_params({**body, "seed": seed}, self.settings)
        plan = self.spec.plan_size(params, [image.size], self.settings)
        return self.spec.build_job(
            params.model_dump(), [image], seed=seed, width=plan.width, height=plan.height,
            area=plan.area,
        )  # fmt: skip

    def run(self, job: EditJob, on_step: Any = ignore_steps) -> EditResult:
        return self.adapter.generate(job, on_step)


@contextmanager
def counting_captions(pipe: Any) -> Iterator[list[int]]:
    """Counts the text encoder's ``generate`` runs: the pipeline's own captions."""
    calls: list[int] = []
    original = pipe.text_encoder.generate

    def generate(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    pipe.text_encoder.generate = generate
    try:
        yield calls
    finally:
        pipe.text_encoder.generate = original


def test_the_twin_has_the_real_configs_differences_and_the_familys_components(
    tmp_path: Path,
) -> None:
    folder = _twin(LAYERED)
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "QwenImageLayeredPipeline"
    assert set(LAYERED.components) <= set(index)
    transformer = json.loads((folder / "transformer" / "config.json").read_text())
    assert transformer["use_additional_t_cond"] is True
    assert transformer["use_layer3d_rope"] is True
    assert transformer["zero_cond_t"] is False
    assert json.loads((folder / "vae" / "config.json").read_text())["input_channels"] == 4
    edit = _twin(EDIT_2509)
    for name in SHARED:
        assert _files(folder / name) == _files(edit / name), name
    # the family's builder makes it by hand too
    out = tmp_path / "twin"
    assert tiny_main([str(out), "qwen-image-layered"]) == 0
    assert is_complete(out, LAYERED) and not is_complete(out, EDIT_2509)


def test_with_a_prompt_the_layers_are_a_direct_pipeline_calls_at_its_own_size(
    tmp_path: Path,
) -> None:
    """At the default output area the planned size is the pipeline's own: nothing of the
    pipeline's sizing is replaced, and the layers are its layers, bit for bit."""
    model = Model(tmp_path)  # the default area: 1 MP, the pipeline's resolution 640 as is
    image = picture((64, 48))
    job = model.job(image, prompt=PROMPT, layers=2)
    result = model.run(job)

    expected = _direct(model.folder)(
        image=image.convert("RGBA"),
        prompt=PROMPT,
        negative_prompt=" ",
        true_cfg_scale=4.0,
        layers=2,
        num_inference_steps=2,
        resolution=640,
        cfg_normalize=True,
        use_en_prompt=True,
        generator=torch.Generator().manual_seed(3),
    ).images[0]
    assert [layer.size for layer in expected] == [(736, 544)] * 2  # the pipeline's size
    assert (job.width, job.height) == (736, 544)
    assert len(result.layers) == 2 and result.image is result.layers[0]
    for ours, theirs in zip(result.layers, expected, strict=True):
        assert ours.mode == theirs.mode == "RGBA"
        assert np.array_equal(pixels(ours), pixels(theirs))


def test_without_a_prompt_the_model_captions_the_picture_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No prompt: the pipeline writes one with its vision-language encoder; the adapter
    gives the direct call's layers at the job's area (the pipeline's sizing at that area
    instead of resolution**2: the one thing the server changes)."""
    import importlib

    model = Model(tmp_path, output_area=TINY_AREA, preview_area=TINY_AREA)
    image = picture((80, 64))
    job = model.job(image, layers=2, resolution=1024)
    assert (job.width, job.height, job.vae_area) == (64, 64, TINY_AREA)
    with counting_captions(model.adapter.pipeline) as captions:
        result = model.run(job)
    assert len(captions) == 1

    module: Any = importlib.import_module(PIPELINE_MODULE)
    original = module.calculate_dimensions
    monkeypatch.setattr(module, "calculate_dimensions", lambda _a, r: original(TINY_AREA, r))
    direct = _direct(model.folder)
    with counting_captions(direct) as direct_captions:
        expected = direct(
            image=image.convert("RGBA"),
            prompt="",
            negative_prompt=" ",
            true_cfg_scale=4.0,
            layers=2,
            num_inference_steps=2,
            resolution=1024,
            cfg_normalize=True,
            use_en_prompt=True,
            generator=torch.Generator().manual_seed(3),
        ).images[0]
    assert len(direct_captions) == 1
    for ours, theirs in zip(result.layers, expected, strict=True):
        assert np.array_equal(pixels(ours), pixels(theirs))
    # with a prompt, no caption is written
    with counting_captions(model.adapter.pipeline) as captions:
        model.run(model.job(image, layers=2, resolution=1024, prompt=PROMPT))
    assert captions == []


def test_the_layers_come_in_order_as_rgba_of_the_planned_size(tmp_path: Path) -> None:
    model = Model(tmp_path, output_area=TINY_AREA, preview_area=TINY_AREA)
    image = picture((128, 64))
    job = model.job(image, prompt=PROMPT, layers=3, resolution=1024, seed=11)
    steps: list[tuple[int, int]] = []
    result = model.run(job, lambda k, n: steps.append((k, n)))
    assert steps == [(1, 2), (2, 2)]
    assert [(layer.mode, layer.size) for layer in result.layers] == [("RGBA", (96, 32))] * 3
    assert result.image is result.layers[0] and result.outputs == result.layers
    arrays = [pixels(layer) for layer in result.layers]
    assert not np.array_equal(arrays[0], arrays[1]) and not np.array_equal(arrays[1], arrays[2])
    receipt = result.receipt
    assert receipt["model"] == "qwen-image-layered" and receipt["num_input_images"] == 1
    assert (receipt["layers"], receipt["resolution"]) == (3, 1024)
    assert receipt["cfg_normalize"] is True and receipt["use_en_prompt"] is True
    assert (receipt["width"], receipt["height"], receipt["seed"]) == (96, 32, 11)
    assert model.adapter.loaded is not None
    assert model.adapter.loaded.details["pipeline"] == "QwenImageLayeredPipeline"
    # the same seed makes the same layers; a cancel stops the run
    again = model.run(job)
    assert all(
        np.array_equal(pixels(a), pixels(b))
        for a, b in zip(again.layers, result.layers, strict=True)
    )

    def cancel(step: int, total: int) -> None:
        raise GenerationCancelled()

    with pytest.raises(GenerationCancelled):
        model.run(job, cancel)
