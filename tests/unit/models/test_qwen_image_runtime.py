"""The text-to-image models on their tiny twins (no fake pipeline anywhere): the twins are
``QwenImagePipeline`` folders sharing every component but the pipeline class with the edit
twins; a request through a model's spec (validation, sizing, job) and its adapter gives the
pixels of ``QwenImagePipeline.from_pretrained(folder)(...)`` with the same seed and
parameters; step callbacks, cancellation, batches, warm-up, request LoRAs and the
Lightning preset work as for the edit models. Outputs are 64-112 pixels wide, 2-4 steps.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fixtures.qwen import ignore_steps, pixels
from PIL import Image

from editserve.core.errors import InvalidParams
from editserve.core.settings import Settings
from editserve.models.base import EditJob, GenerationCancelled, JobRefused
from editserve.models.qwen_image.members import QWEN_IMAGE, QWEN_IMAGE_2512
from editserve.models.qwen_image.tiny import main as tiny_main
from editserve.models.qwen_image_edit.tiny.build import (
    MARKER_FILE,
    TEXT_TO_IMAGE_PREFIX,
    TEXT_TO_IMAGE_PREFIX_TOKENS,
    build_tiny_lora,
    ensure_tiny_weights,
    is_complete,
)
from editserve.models.qwen_image_edit.variant import QwenVariant
from editserve.models.registry import default_registry

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[3]
TINY_AREA = 64 * 64  # 16:9 at this area is 112x64
PROMPT = 'A neon sign that reads "OPEN" above a red door'
SHARED = ("text_encoder", "vae", "tokenizer", "scheduler")


def _twin(variant: QwenVariant) -> Path:
    return ensure_tiny_weights(REPO_ROOT / ".cache" / variant.tiny_folder_name, variant)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _direct(folder: Path) -> Any:
    from diffusers import QwenImagePipeline

    pipe: Any = QwenImagePipeline.from_pretrained(folder, dtype=torch.float32)  # no overrides
    pipe.set_progress_bar_config(disable=True)
    return pipe


class Model:
    """One text-to-image model: its spec, its adapter on its twin, the settings."""

    def __init__(self, model_id: str, data_dir: Path, **settings: Any) -> None:
        self.spec = default_registry().get(model_id)
        adapter_class = self.spec.adapter_class()
        self.variant: QwenVariant = adapter_class.variant
        self.folder = _twin(self.variant)
        self.settings = Settings(
            data_dir=data_dir,
            model_weights=str(self.folder),
            output_area=TINY_AREA,
            preview_area=TINY_AREA,
            **settings,
        )
        self.adapter = adapter_class(self.settings, device="cpu", warmup=False)
        self.adapter.load()

    def job(self, seed: int = 7, **fields: Any) -> EditJob:
        """The job of a request, made the way the API and the worker make it."""
        body = {"prompt": PROMPT, "num_inference_steps": 2, "seed": seed, **fields}
        params = self.spec.validate_params(body, self.settings)
        plan = self.spec.plan_size(params, [], self.settings)
        stored = params.model_dump()
        return self.spec.build_job(
            stored, [], seed=seed, width=plan.width, height=plan.height, area=plan.area
        )

    def run(self, job: EditJob) -> np.ndarray:
        return pixels(self.adapter.generate(job, ignore_steps).image)


@pytest.fixture(scope="module")
def qwen(tmp_path_factory: pytest.TempPathFactory) -> Model:
    loras = tmp_path_factory.mktemp("loras")
    folder = _twin(QWEN_IMAGE)
    build_tiny_lora(folder, loras / "style.safetensors", scale=2.0)
    build_tiny_lora(folder, loras / "other.safetensors", scale=2.0, seed=5)
    return Model("qwen-image", tmp_path_factory.mktemp("qwen"), lora_dir=loras)


class TransformerCalls:
    """Counts transformer forward passes."""

    def __init__(self, model: Model) -> None:
        self.count = 0
        self._module = model.adapter.pipeline.transformer

    def __enter__(self) -> TransformerCalls:
        def hook(module: Any, args: Any) -> None:
            self.count += 1

        self._handle = self._module.register_forward_pre_hook(hook)
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.remove()


# --- the tiny twins ----------------------------------------------------------------------------


def test_the_twin_is_a_stock_qwen_image_pipeline_folder() -> None:
    from diffusers import QwenImagePipeline, QwenImageTransformer2DModel

    folder = _twin(QWEN_IMAGE)
    assert is_complete(folder, QWEN_IMAGE)
    assert not is_complete(folder, QWEN_IMAGE_2512)  # the marker names the model
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "QwenImagePipeline"
    assert "processor" not in index and not (folder / "processor").exists()
    assert json.loads((folder / MARKER_FILE).read_text())["model"] == "qwen-image"
    pipe = _direct(folder)
    assert isinstance(pipe, QwenImagePipeline)
    assert isinstance(pipe.transformer, QwenImageTransformer2DModel)
    config = pipe.transformer.config
    assert not config.zero_cond_t and not config.use_additional_t_cond
    assert pipe.scheduler.config.shift_terminal == 0.02
    # The pipeline drops exactly the 34 tokens of its system prefix.
    assert pipe.prompt_template_encode.split("{}")[0] == TEXT_TO_IMAGE_PREFIX
    assert pipe.prompt_template_encode_start_idx == TEXT_TO_IMAGE_PREFIX_TOKENS == 34
    ids = pipe.tokenizer(TEXT_TO_IMAGE_PREFIX)["input_ids"]
    assert len(ids) == 34
    assert pipe.tokenizer(TEXT_TO_IMAGE_PREFIX + "a fox")["input_ids"][:34] == ids


def test_the_twins_share_the_edit_twins_components(tiny_weights_dir: Path) -> None:
    """Text encoder, VAE, tokenizer and scheduler are byte-identical to the edit twin's: a
    worker could keep them and swap only the transformer."""
    edit = _files(tiny_weights_dir)
    for variant in (QWEN_IMAGE, QWEN_IMAGE_2512):
        ours = _files(_twin(variant))
        for component in SHARED:
            mine = {k: v for k, v in ours.items() if k.startswith(component + "/")}
            assert mine and mine == {k: v for k, v in edit.items() if k.startswith(component + "/")}
        config = json.loads(ours["transformer/config.json"])
        edit_config = json.loads(edit["transformer/config.json"])
        assert {k: v for k, v in config.items() if not k.startswith("_")} == {
            k: v for k, v in edit_config.items() if not k.startswith("_")
        }


def test_the_cli_builds_a_text_to_image_member(capsys: pytest.CaptureFixture[str]) -> None:
    folder = _twin(QWEN_IMAGE_2512)
    assert tiny_main([str(folder), "qwen-image-2512"]) == 0
    assert capsys.readouterr().out.strip() == str(folder)
    assert tiny_main([str(folder), "qwen-image-edit-plus"]) == 2
    assert tiny_main([]) == 2


# --- parity with diffusers ----------------------------------------------------------------------


def test_a_request_equals_a_direct_pipeline_call(qwen: Model) -> None:
    job = qwen.job(seed=501, guidance=4.0, negative_prompt="blurry")
    assert (job.width, job.height, job.true_cfg_scale, job.images) == (112, 64, 4.0, [])
    result = qwen.adapter.generate(job, ignore_steps)
    theirs = _direct(qwen.folder)(
        prompt=PROMPT,
        negative_prompt="blurry",
        true_cfg_scale=4.0,
        width=112,
        height=64,
        num_inference_steps=2,
        generator=torch.Generator(device="cpu").manual_seed(501),
    ).images[0]
    assert np.array_equal(pixels(result.image), pixels(theirs))
    receipt = result.receipt
    assert receipt["model"] == "qwen-image" and receipt["cfg"] is True
    assert (receipt["num_input_images"], receipt["seed"]) == (0, 501)
    assert "vae_area" not in receipt and "vae_input_sizes" not in receipt


def test_2512_exact_size_without_cfg_equals_a_direct_pipeline_call(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    model = Model("qwen-image-2512", tmp_path_factory.mktemp("q2512"), exact_size_min_side=16)
    assert model.adapter.loaded is not None
    assert model.adapter.loaded.details["model"] == "qwen-image-2512"
    assert model.adapter.loaded.details["pipeline"] == "QwenImagePipeline"
    job = model.job(seed=9, width=64, height=96, true_cfg_scale=1.0, num_inference_steps=3)
    with TransformerCalls(model) as calls:
        ours = model.run(job)
    assert calls.count == 3  # no CFG: one pass per step
    theirs = _direct(model.folder)(
        prompt=PROMPT,
        true_cfg_scale=1.0,
        width=64,
        height=96,
        num_inference_steps=3,
        generator=torch.Generator(device="cpu").manual_seed(9),
    ).images[0]
    assert ours.shape == (96, 64, 3)
    assert np.array_equal(ours, pixels(theirs))


def test_same_seed_same_pixels_other_seed_other_pixels(qwen: Model) -> None:
    first = qwen.run(qwen.job(seed=11))
    assert np.array_equal(first, qwen.run(qwen.job(seed=11)))
    assert not np.array_equal(first, qwen.run(qwen.job(seed=12)))


# --- steps, cancellation, batches, warm-up ------------------------------------------------------


def test_on_step_is_called_once_per_step(qwen: Model) -> None:
    seen: list[tuple[int, int]] = []
    qwen.adapter.generate(qwen.job(num_inference_steps=3), lambda k, n: seen.append((k, n)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_cancelling_from_on_step_stops_at_once(qwen: Model) -> None:
    scheduler = qwen.adapter.pipeline.scheduler
    seen: list[int] = []

    def cancel_at_first(step: int, total: int) -> None:
        seen.append(step)
        raise GenerationCancelled()

    with TransformerCalls(qwen) as calls, pytest.raises(GenerationCancelled):
        qwen.adapter.generate(qwen.job(num_inference_steps=4), cancel_at_first)
    assert seen == [1]
    assert calls.count == 2  # one step with CFG, not 8
    assert qwen.adapter.pipeline.scheduler is scheduler
    assert not qwen.adapter.pipeline.transformer._forward_pre_hooks
    assert qwen.adapter.generate(qwen.job(), ignore_steps).image.size == (112, 64)


def test_a_batch_of_seeds_is_each_seed_alone(qwen: Model) -> None:
    jobs = [qwen.job(seed=seed) for seed in (21, 22)]
    batch = qwen.adapter.generate_batch(jobs, ignore_steps)
    assert [r.receipt["batch"] for r in batch] == [
        {"size": 2, "index": 0},
        {"size": 2, "index": 1},
    ]
    for job, result in zip(jobs, batch, strict=True):
        alone = qwen.run(job)
        assert np.abs(pixels(result.image) - alone).max() <= 2  # float rounding of the batch
    assert not np.array_equal(pixels(batch[0].image), pixels(batch[1].image))


def test_pictures_are_refused_and_the_warm_up_needs_none(qwen: Model, tmp_path: Path) -> None:
    picture = Image.new("RGB", (64, 64), (200, 30, 40))
    job = qwen.job()
    with pytest.raises(ValueError, match="from a prompt alone"):
        qwen.adapter.generate(EditJob(**{**job.__dict__, "images": [picture]}), ignore_steps)
    warmed = type(qwen.adapter)(qwen.settings, device="cpu", warmup=True)
    loaded = warmed.load()
    assert loaded.details["warmup_seconds"] > 0


# --- request LoRAs and the Lightning preset -----------------------------------------------------


def test_a_request_lora_changes_the_output_and_the_next_job_is_unchanged(qwen: Model) -> None:
    bare = qwen.run(qwen.job())
    styled = qwen.adapter.generate(qwen.job(loras=[{"path": "style"}]), ignore_steps)
    assert not np.array_equal(bare, pixels(styled.image))
    assert [lora["path"] for lora in styled.receipt["loras"]] == ["style"]
    assert np.array_equal(qwen.run(qwen.job()), bare)
    # refused at enqueue (the spec's sizing) and, should it get there, by the worker
    with pytest.raises(InvalidParams, match="no LoRA named 'missing'"):
        qwen.job(loras=[{"path": "missing"}])
    gone = EditJob(**{**qwen.job().__dict__, "loras": (("missing", 1.0),)})
    with pytest.raises(JobRefused, match="no LoRA named 'missing'"):
        qwen.adapter.generate(gone, ignore_steps)
    assert np.array_equal(qwen.run(qwen.job()), bare)


def test_the_lightning_preset_fuses_its_lora_and_sets_the_defaults(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    lora = build_tiny_lora(
        _twin(QWEN_IMAGE), tmp_path_factory.mktemp("lightning") / "fast.safetensors"
    )
    fast = Model(
        "qwen-image", tmp_path_factory.mktemp("fast"), lightning="4", lightning_lora=str(lora)
    )
    # the preset's defaults: a request that leaves steps and CFG out gets 4 steps, CFG 1.0
    params = fast.spec.validate_params({"prompt": PROMPT}, fast.settings)
    assert (params.num_inference_steps, params.true_cfg_scale) == (4, 1.0)
    job = fast.spec.build_job(params.model_dump(), [], seed=1, width=64, height=64, area=4096)
    result = fast.adapter.generate(job, ignore_steps)
    config = fast.adapter.pipeline.scheduler.config
    assert config.base_shift == config.max_shift == pytest.approx(math.log(3))
    assert result.receipt["scheduler"]["sigmas"] == [1.0, 0.9, 0.75, 0.5, 0.0]
    assert result.receipt["options"]["lightning"]["preset"] == "4-step"
    assert result.receipt["options"]["lightning"]["lora"]["layers_fused"] == 24
