"""QwenImageEditPlusAdapter on the real tiny model (no fake pipeline anywhere).

Sizes are tiny (64x64 outputs, a 64x64 VAE area) and runs are 2-3 steps, so the module
stays well under two minutes on two cores.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fixtures.qwen import SMALL_VAE, load_tiny_adapter
from fixtures.qwen import edit_job as _job
from fixtures.qwen import ignore_steps as _ignore
from fixtures.qwen import picture as _image
from fixtures.qwen import pixels as _pixels
from PIL import Image

from editserve.core.settings import Settings
from editserve.models.base import GenerationCancelled, ModelLoadError
from editserve.models.qwen_image_edit.members import EDIT_2509
from editserve.models.qwen_image_edit.request.weights_choice import resolve_weights
from editserve.models.qwen_image_edit.runtime.adapter import (
    QwenImageEditPlusAdapter,
    resolve_device,
    resolve_dtype,
    vae_image_area,
)

HUB_ID = EDIT_2509.hub_id
PIPELINE_MODULE = EDIT_2509.pipeline_module
TINY_FOLDER_NAME = EDIT_2509.tiny_folder_name


@pytest.fixture(scope="module")
def adapter(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return load_tiny_adapter(tiny_weights_dir, tmp_path_factory.mktemp("adapter-data"))


class TransformerCalls:
    """Counts transformer forward passes and records the image token count of each."""

    def __init__(self, adapter: QwenImageEditPlusAdapter) -> None:
        self.tokens: list[int] = []
        self._module = adapter.pipeline.transformer

    def __enter__(self) -> TransformerCalls:
        def hook(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
            self.tokens.append(int(kwargs["hidden_states"].shape[1]))

        self._handle = self._module.register_forward_pre_hook(hook, with_kwargs=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.remove()

    @property
    def count(self) -> int:
        return len(self.tokens)


# --- pure resolution -------------------------------------------------------------------------


def test_resolve_weights(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    choice = resolve_weights(settings, cuda_available=False, variant=EDIT_2509)
    assert choice.kind == "tiny" and choice.auto_fallback
    assert choice.location == str(tmp_path / "models" / TINY_FOLDER_NAME)
    hub = resolve_weights(
        Settings(data_dir=tmp_path, model_revision="abc"), cuda_available=True, variant=EDIT_2509
    )
    assert (hub.kind, hub.location, hub.revision) == ("hub", HUB_ID, "abc")
    tiny = resolve_weights(
        Settings(data_dir=tmp_path, model_weights="tiny"), False, variant=EDIT_2509
    )
    assert tiny.kind == "tiny" and not tiny.auto_fallback
    override = Settings(data_dir=tmp_path, model_weights="tiny", tiny_weights_dir=tmp_path / "t")
    assert resolve_weights(override, False, variant=EDIT_2509).location == str(tmp_path / "t")
    local = resolve_weights(Settings(model_weights=str(tmp_path)), False, variant=EDIT_2509)
    assert (local.kind, local.location) == ("local", str(tmp_path))
    other = resolve_weights(Settings(model_weights="someone/some-model"), True, variant=EDIT_2509)
    assert (other.kind, other.location) == ("hub", "someone/some-model")


def test_resolve_device_and_dtype() -> None:
    assert resolve_device("auto", cuda_available=False) == "cpu"
    assert resolve_device("auto", cuda_available=True, cuda_count=1) == "cuda"
    assert resolve_device("cuda:1", cuda_available=True, cuda_count=2) == "cuda:1"
    for bad, cuda, count in (("cuda", False, 0), ("cuda:2", True, 2), ("tpu", True, 1)):
        with pytest.raises(ModelLoadError):
            resolve_device(bad, cuda_available=cuda, cuda_count=count)
    assert resolve_dtype("auto", "cpu") == "float32"
    assert resolve_dtype("auto", "cuda:0") == "bfloat16"
    assert resolve_dtype("fp16", "cpu") == "float16"
    assert resolve_dtype("bf16", "cpu") == "bfloat16"
    assert resolve_dtype("fp32", "cuda") == "float32"
    with pytest.raises(ModelLoadError, match="dtype"):
        resolve_dtype("int3", "cpu")


# --- load errors ---------------------------------------------------------------------------------


def _load_error(settings: Settings) -> str:
    with pytest.raises(ModelLoadError) as info:
        QwenImageEditPlusAdapter(settings, device="cpu", warmup=False).load()
    return str(info.value)


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    message = _load_error(Settings(model_weights=str(tmp_path / "nope")))
    assert "does not exist" in message and "nope" in message
    assert "Traceback" not in message


def test_folder_of_the_wrong_type_is_a_clear_error(tmp_path: Path) -> None:
    assert "no model_index.json" in _load_error(Settings(model_weights=str(tmp_path)))
    (tmp_path / "model_index.json").write_text(
        json.dumps({"_class_name": "QwenImageEditPipeline", "vae": ["diffusers", "X"]})
    )
    message = _load_error(Settings(model_weights=str(tmp_path)))
    assert "QwenImageEditPipeline" in message and "not a QwenImageEditPlusPipeline" in message


def test_incomplete_folder_is_a_clear_error(tiny_weights_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_weights_dir, broken)
    shutil.rmtree(broken / "transformer")
    assert "missing pipeline component(s): transformer" in _load_error(
        Settings(model_weights=str(broken))
    )


@pytest.mark.slow
def test_offline_hub_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    message = _load_error(Settings(model_weights="someone-else/not-cached-model"))
    assert "HF_HUB_OFFLINE" in message and "someone-else/not-cached-model" in message


# --- loading -------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="auto means the real weights on CUDA")
def test_auto_on_cpu_is_tiny_with_a_loud_warning(
    tiny_weights_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Pre-place the cached model where `tiny` builds it, so this test does not rebuild.
    shutil.copytree(tiny_weights_dir, tmp_path / "models" / TINY_FOLDER_NAME)
    settings = Settings(data_dir=tmp_path, model_weights="auto", torch_threads=2)
    with caplog.at_level(logging.WARNING, logger="editserve.model"):
        loaded = QwenImageEditPlusAdapter(settings).load()  # with its warm-up run
    assert loaded.is_tiny is True
    assert loaded.source == "tiny-random"
    assert (loaded.device, loaded.dtype) == ("cpu", "float32")
    assert loaded.details["versions"]["diffusers"]
    assert loaded.details["warmup_seconds"] >= 0
    assert loaded.details["folder"] == str(tmp_path / "models" / TINY_FOLDER_NAME)
    assert any("TINY" in record.getMessage() for record in caplog.records)


@pytest.mark.slow
def test_loaded_weights_of_a_local_folder(
    adapter: QwenImageEditPlusAdapter, tiny_weights_dir: Path
) -> None:
    loaded = adapter.loaded
    assert loaded is not None
    assert loaded.source == str(tiny_weights_dir)
    assert loaded.is_tiny  # the folder carries the tiny builder's marker
    assert loaded.details["pipeline"] == "QwenImageEditPlusPipeline"
    assert loaded.details["parameters"]["transformer"] > 0


# --- generating ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("width", "height"), [(64, 64), (96, 64), (48, 80)])
def test_output_has_the_requested_size(
    adapter: QwenImageEditPlusAdapter, width: int, height: int
) -> None:
    result = adapter.generate(_job(width=width, height=height), _ignore)
    assert result.image.size == (width, height)
    assert result.image.mode == "RGB"
    assert result.receipt["width"] == width and result.receipt["height"] == height


@pytest.mark.slow
def test_same_seed_same_pixels_other_seed_other_pixels(adapter: QwenImageEditPlusAdapter) -> None:
    first = _pixels(adapter.generate(_job(seed=11), _ignore).image)
    again = _pixels(adapter.generate(_job(seed=11), _ignore).image)
    other = _pixels(adapter.generate(_job(seed=12), _ignore).image)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.slow
def test_cfg_runs_two_passes_per_step(adapter: QwenImageEditPlusAdapter) -> None:
    with TransformerCalls(adapter) as calls:
        result = adapter.generate(_job(num_inference_steps=3, true_cfg_scale=4.0), _ignore)
    assert calls.count == 6
    assert result.receipt["cfg"] is True
    with TransformerCalls(adapter) as calls:
        result = adapter.generate(_job(num_inference_steps=3, true_cfg_scale=1.0), _ignore)
    assert calls.count == 3
    assert result.receipt["cfg"] is False


@pytest.mark.slow
def test_on_step_is_called_once_per_step(adapter: QwenImageEditPlusAdapter) -> None:
    seen: list[tuple[int, int]] = []
    adapter.generate(_job(num_inference_steps=3), lambda k, n: seen.append((k, n)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.slow
def test_cancelling_from_on_step_stops_at_once(adapter: QwenImageEditPlusAdapter) -> None:
    module: Any = importlib.import_module(PIPELINE_MODULE)
    scheduler = adapter.pipeline.scheduler
    seen: list[int] = []

    def cancel_at_first(step: int, total: int) -> None:
        seen.append(step)
        raise GenerationCancelled()

    with TransformerCalls(adapter) as calls, pytest.raises(GenerationCancelled):
        adapter.generate(_job(num_inference_steps=4, vae_area=128 * 128), cancel_at_first)
    assert seen == [1]
    assert calls.count == 2  # one step with CFG, not 8
    # Everything the call changed is restored, and the adapter keeps working.
    assert module.VAE_IMAGE_SIZE == 1024 * 1024
    assert adapter.pipeline.scheduler is scheduler
    assert not adapter.pipeline.transformer._forward_pre_hooks
    assert adapter.generate(_job(), _ignore).image.size == (64, 64)


@pytest.mark.slow
@pytest.mark.parametrize("count", [1, 2, 3])
def test_one_to_three_input_images(adapter: QwenImageEditPlusAdapter, count: int) -> None:
    images = [_image((64, 64), (200, 30, 40)), _image((96, 64), (30, 200, 40)), _image((64, 96))]
    with TransformerCalls(adapter) as calls:
        result = adapter.generate(_job(images=images[:count]), _ignore)
    assert result.image.size == (64, 64)
    assert result.receipt["num_input_images"] == count
    # Output tokens (64/16)^2 = 16, plus 16 tokens per 64x64-area VAE copy of an input.
    assert set(calls.tokens) == {16 + 16 * count}


@pytest.mark.slow
def test_vae_area_sizes_the_vae_copy_of_each_input(adapter: QwenImageEditPlusAdapter) -> None:
    module: Any = importlib.import_module(PIPELINE_MODULE)
    with TransformerCalls(adapter) as calls:
        result = adapter.generate(_job(vae_area=128 * 128), _ignore)
    assert set(calls.tokens) == {16 + 64}
    assert result.receipt["vae_input_sizes"] == [[128, 128]]
    assert module.VAE_IMAGE_SIZE == 1024 * 1024
    with vae_image_area(SMALL_VAE, variant=EDIT_2509):
        assert module.VAE_IMAGE_SIZE == SMALL_VAE
    assert module.VAE_IMAGE_SIZE == 1024 * 1024


@pytest.mark.slow
def test_parity_with_a_direct_pipeline_call(
    adapter: QwenImageEditPlusAdapter, tiny_weights_dir: Path
) -> None:
    from diffusers import QwenImageEditPlusPipeline

    job = _job(images=[_image((64, 64)), _image((96, 64), (10, 10, 220))], seed=123, width=80)
    ours = adapter.generate(job, _ignore).image

    pipe: Any = QwenImageEditPlusPipeline.from_pretrained(tiny_weights_dir, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    module: Any = importlib.import_module(PIPELINE_MODULE)
    original, module.VAE_IMAGE_SIZE = module.VAE_IMAGE_SIZE, job.vae_area
    try:
        theirs = pipe(
            image=job.images,
            prompt=job.prompt,
            negative_prompt=job.negative_prompt,
            true_cfg_scale=job.true_cfg_scale,
            height=job.height,
            width=job.width,
            num_inference_steps=job.num_inference_steps,
            generator=torch.Generator(device="cpu").manual_seed(job.seed),
        ).images[0]
    finally:
        module.VAE_IMAGE_SIZE = original
    assert np.array_equal(_pixels(ours), _pixels(theirs))


@pytest.mark.slow
def test_one_step_gives_a_real_image(adapter: QwenImageEditPlusAdapter) -> None:
    seen: list[tuple[int, int]] = []
    result = adapter.generate(_job(num_inference_steps=1), lambda k, n: seen.append((k, n)))
    pixels = _pixels(result.image)
    assert seen == [(1, 1)]
    assert pixels.max() > 0 and pixels.std() > 0  # not the black NaN image
    assert "shift_terminal" in result.receipt["scheduler"]["note"]
    assert result.receipt["scheduler"]["sigmas"] == [1.0, 0.0]
    assert adapter.pipeline.scheduler.config.shift_terminal == 0.02  # restored


def test_the_stock_schedule_is_nan_for_one_step() -> None:
    """Why the adapter special-cases one step: the Qwen-Image scheduler config itself (not
    the tiny model) turns a single sigma into NaN through shift_terminal."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    config = {
        "base_image_seq_len": 256,
        "base_shift": 0.5,
        "max_image_seq_len": 8192,
        "max_shift": 0.9,
        "num_train_timesteps": 1000,
        "shift": 1.0,
        "shift_terminal": 0.02,
        "time_shift_type": "exponential",
        "use_dynamic_shifting": True,
    }
    stock: Any = FlowMatchEulerDiscreteScheduler(**config)
    with np.errstate(invalid="ignore", divide="ignore"):
        stock.set_timesteps(sigmas=[1.0], mu=0.7)
    assert math.isnan(float(stock.sigmas[0]))
    fixed: Any = FlowMatchEulerDiscreteScheduler.from_config(stock.config, shift_terminal=None)
    fixed.set_timesteps(sigmas=[1.0], mu=0.7)
    assert [float(s) for s in fixed.sigmas] == [1.0, 0.0]


@pytest.mark.slow
def test_timings_and_receipt(adapter: QwenImageEditPlusAdapter) -> None:
    result = adapter.generate(_job(seed=99), _ignore)
    timings = result.timings
    assert {"encode", "text_encode", "vae_encode", "denoise", "decode", "inference"} <= set(timings)
    assert all(isinstance(v, float) and v >= 0 for v in timings.values())
    assert timings["encode"] + timings["denoise"] + timings["decode"] == pytest.approx(
        timings["inference"], abs=1e-6
    )
    assert 0 < timings["text_encode"] <= timings["encode"]
    assert 0 < timings["vae_encode"] <= timings["encode"] - timings["text_encode"]
    receipt = result.receipt
    assert receipt["seed"] == 99 and receipt["steps"] == 2 and receipt["true_cfg_scale"] == 4.0
    scheduler = receipt["scheduler"]
    assert scheduler["class"] == "FlowMatchEulerDiscreteScheduler"
    assert scheduler["shift_terminal"] == 0.02 and scheduler["use_dynamic_shifting"] is True
    assert len(scheduler["sigmas"]) == 3 and scheduler["sigmas"][-1] == 0.0
    assert receipt["options"]["memory_mode"] == "none"
    assert receipt["options"]["lightning"] == "off"
    assert receipt["options"]["attention_backend"] == "native"
    assert len(receipt["weights_hash"]) == 64
    assert receipt["batch"] == {"size": 1, "index": 0}
    assert receipt["weights"] and receipt["is_tiny"] is True
    assert {"torch", "diffusers", "transformers"} <= set(receipt["versions"])
    json.dumps(receipt)  # storable as is


@pytest.mark.slow
def test_non_rgb_input_is_converted(adapter: QwenImageEditPlusAdapter) -> None:
    rgba = Image.new("RGBA", (64, 64), (10, 20, 30, 128))
    assert adapter.generate(_job(images=[rgba]), _ignore).image.size == (64, 64)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"width": 70}, "multiple of 16"),
        ({"height": 0}, "multiple of 16"),
        ({"num_inference_steps": 0}, "at least 1"),
        ({"images": []}, "at least one"),
        ({"vae_area": 100}, "vae_area"),
        ({"images": [Image.new("RGB", (4000, 10))]}, "elongated"),
    ],
)
def test_bad_jobs_fail_clearly(
    adapter: QwenImageEditPlusAdapter, overrides: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        adapter.generate(_job(**overrides), _ignore)


def test_generate_before_load_is_an_error(tmp_path: Path) -> None:
    adapter = QwenImageEditPlusAdapter(Settings(data_dir=tmp_path), warmup=False)
    with pytest.raises(RuntimeError, match="load"):
        adapter.generate(_job(), _ignore)


@pytest.fixture(autouse=True)
def _no_leaked_vae_area() -> Iterator[None]:
    yield
    module = sys.modules.get(PIPELINE_MODULE)
    if module is not None:
        assert module.VAE_IMAGE_SIZE == 1024 * 1024
