"""Per-request LoRAs on the tiny model, through the adapter: they change the output, the
next job without them is unchanged, a LoRA that does not fit refuses its job (naming it)
and leaves nothing applied, and a LoRA at scale s gives diffusers' own pixels
(``load_lora_weights`` + ``set_adapters`` at s) on the same seed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fixtures.qwen import edit_job, ignore_steps, load_tiny_adapter, pixels
from safetensors.torch import load_file, save_file

from editserve.models.base import JobRefused
from editserve.models.qwen_image_edit.tiny.build import build_tiny_lora


@pytest.fixture(scope="module")
def lora_dir(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("loras")
    good = build_tiny_lora(tiny_weights_dir, folder / "style.safetensors", scale=2.0)
    build_tiny_lora(tiny_weights_dir, folder / "other.safetensors", scale=2.0, seed=5)
    build_tiny_lora(tiny_weights_dir, folder / "kohya.safetensors", scale=2.0, style="kohya")
    state = load_file(str(good))
    key = next(k for k in sorted(state) if k.endswith("lora_A.weight"))
    state[key] = torch.zeros(state[key].shape[0], state[key].shape[1] + 8)  # wrong in-features
    save_file(state, str(folder / "wrong.safetensors"))
    return folder


@pytest.fixture(scope="module")
def adapter(
    tiny_weights_dir: Path, lora_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    return load_tiny_adapter(
        tiny_weights_dir, tmp_path_factory.mktemp("data"), lora_dir=lora_dir, lora_max_loaded=2
    )


def _run(adapter: Any, **overrides: Any) -> tuple[np.ndarray, dict[str, Any]]:
    result = adapter.generate(edit_job(**overrides), ignore_steps)
    return pixels(result.image), result.receipt


def test_a_lora_changes_the_output_and_the_next_job_is_unchanged(adapter: Any) -> None:
    bare, receipt = _run(adapter)
    assert receipt["loras"] == []
    styled, receipt = _run(adapter, loras=(("style", 1.0),))
    assert not np.array_equal(bare, styled)
    [lora] = receipt["loras"]
    assert lora["path"] == "style" and lora["scale"] == 1.0 and len(lora["sha256"]) == 64
    assert np.array_equal(_run(adapter)[0], bare)
    # scale 0 is the bare model; a kohya-layout file loads too
    assert np.array_equal(_run(adapter, loras=(("style", 0.0),))[0], bare)
    assert not np.array_equal(_run(adapter, loras=(("kohya", 1.0),))[0], bare)
    assert np.array_equal(_run(adapter)[0], bare)


def test_a_lora_that_does_not_fit_refuses_its_job_and_nothing_stays_applied(adapter: Any) -> None:
    bare, _ = _run(adapter)
    with pytest.raises(JobRefused, match="wrong") as refused:
        _run(adapter, loras=(("style", 1.0), ("wrong", 1.0)))
    assert "does not fit" in str(refused.value)
    with pytest.raises(JobRefused, match="no LoRA named 'missing'"):
        _run(adapter, loras=(("missing", 1.0),))
    assert np.array_equal(_run(adapter)[0], bare)


def test_the_loaded_adapters_are_bounded_least_recently_used_first(adapter: Any) -> None:
    for name in ("style", "other", "kohya", "style"):
        _run(adapter, loras=((name, 1.0),))
    assert len(adapter.loras.loaded) == 2  # lora_max_loaded=2: "other" was unloaded
    names = {a for names in adapter.pipeline.get_list_adapters().values() for a in names}
    assert names == set(adapter.loras.loaded)
    # three LoRAs at once: all stay loaded for the call even past the bound
    _, receipt = _run(adapter, loras=(("style", 0.5), ("other", 1.0), ("kohya", 1.0)))
    assert [lora["path"] for lora in receipt["loras"]] == ["style", "other", "kohya"]


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.5])
def test_a_lora_at_scale_s_gives_diffusers_own_pixels(
    adapter: Any, tiny_weights_dir: Path, lora_dir: Path, scale: float
) -> None:
    from diffusers import QwenImageEditPlusPipeline

    ours, _ = _run(adapter, loras=(("style", scale),), seed=11)
    pipe: Any = QwenImageEditPlusPipeline.from_pretrained(tiny_weights_dir, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    pipe.load_lora_weights(str(lora_dir / "style.safetensors"), adapter_name="style")
    pipe.set_adapters(["style"], [scale])
    theirs = _direct(pipe, seed=11)
    assert np.array_equal(ours, theirs)


def _direct(pipe: Any, *, seed: int) -> np.ndarray:
    """The same job as edit_job(seed=seed), as a direct pipeline call."""
    from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit_plus as module

    job = edit_job(seed=seed)
    original = module.VAE_IMAGE_SIZE
    module.VAE_IMAGE_SIZE = job.vae_area
    try:
        output = pipe(
            image=job.images,
            prompt=job.prompt,
            negative_prompt=job.negative_prompt,
            true_cfg_scale=job.true_cfg_scale,
            height=job.height,
            width=job.width,
            num_inference_steps=job.num_inference_steps,
            generator=torch.Generator(device="cpu").manual_seed(seed),
        )
    finally:
        module.VAE_IMAGE_SIZE = original
    return pixels(output.images[0])


def test_request_loras_work_on_top_of_the_fused_lightning_preset(
    tiny_weights_dir: Path, lora_dir: Path, tmp_path: Path
) -> None:
    lightning = build_tiny_lora(tiny_weights_dir, tmp_path / "lightning.safetensors", seed=9)
    fused = load_tiny_adapter(
        tiny_weights_dir, tmp_path, lora_dir=lora_dir, lightning="4", lightning_lora=str(lightning)
    )
    bare, _ = _run(fused, num_inference_steps=4, true_cfg_scale=1.0)
    styled, receipt = _run(
        fused, num_inference_steps=4, true_cfg_scale=1.0, loras=(("style", 1.0),)
    )
    assert receipt["loras"][0]["path"] == "style" and receipt["options"]["lightning"]
    assert not np.array_equal(bare, styled)
    assert np.array_equal(_run(fused, num_inference_steps=4, true_cfg_scale=1.0)[0], bare)
