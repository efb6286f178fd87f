"""Every speed/memory option that can run on a CPU, run for real on the tiny model.

Lightning LoRA load + fuse (a tiny LoRA built with peft), the first-block cache hook,
the attention dispatcher, regional torch.compile (inductor on the CPU), the FP8 code path
(torchao weight-only, in bf16) and the group/model offload hooks. What needs a GPU is
refused on the CPU (tests in test_options.py) and documented in the README's GPU guide.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fixtures.qwen import edit_job, load_tiny_adapter
from fixtures.qwen import ignore_steps as _ignore
from fixtures.qwen import picture as _image
from fixtures.qwen import pixels as _pixels

from editserve.core.settings import Settings
from editserve.models.base import EditJob, GenerationCancelled, ModelLoadError
from editserve.models.qwen_image_edit.members import EDIT_2509
from editserve.models.qwen_image_edit.request.options import ModelOptions
from editserve.models.qwen_image_edit.runtime import accel
from editserve.models.qwen_image_edit.runtime.adapter import (
    QwenImageEditPlusAdapter,
    vae_image_area,
)
from editserve.models.qwen_image_edit.tiny.build import build_tiny_lora

pytestmark = pytest.mark.slow


def _job(**overrides: Any) -> EditJob:
    return edit_job(**{"num_inference_steps": 3, **overrides})


def _adapter(weights: Path, tmp: Path, **values: Any) -> QwenImageEditPlusAdapter:
    return load_tiny_adapter(weights, tmp, **{"torch_threads": 2, **values})


class BlockRuns:
    """Counts real evaluations of the last transformer block (cache hooks skip its body)."""

    def __init__(self, adapter: QwenImageEditPlusAdapter) -> None:
        self.count = 0
        self._attn = adapter.pipeline.transformer.transformer_blocks[-1].attn

    def __enter__(self) -> BlockRuns:
        def hook(*_: Any) -> None:
            self.count += 1

        self._handle = self._attn.register_forward_pre_hook(hook)
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.remove()


@pytest.fixture(scope="module")
def plain(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return _adapter(tiny_weights_dir, tmp_path_factory.mktemp("plain"))


@pytest.fixture(scope="module")
def tiny_lora(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_lora(tiny_weights_dir, tmp_path_factory.mktemp("lora") / "tiny.safetensors")


# --- Lightning: LoRA load + fuse, scheduler, defaults ---------------------------------------------


def test_lightning_lora_is_fused_and_the_scheduler_is_shift_3(
    plain: Any, tiny_weights_dir: Path, tiny_lora: Path, tmp_path: Path
) -> None:
    fast = _adapter(tiny_weights_dir, tmp_path, lightning="4", lightning_lora=str(tiny_lora))
    pipe = fast.pipeline
    # Fused and unloaded: plain Linear layers again, with changed weights.
    assert not any("lora" in name for name, _ in pipe.transformer.named_parameters())
    assert not any(hasattr(module, "lora_A") for module in pipe.transformer.modules())
    ours = pipe.transformer.transformer_blocks[0].attn.to_q.weight
    base = plain.pipeline.transformer.transformer_blocks[0].attn.to_q.weight
    assert not torch.equal(ours, base)
    # ... by exactly W + B @ A (alpha = rank: scale 1).
    from safetensors.torch import load_file

    lora = load_file(str(tiny_lora))
    prefix = "transformer.transformer_blocks.0.attn.to_q"
    delta = lora[f"{prefix}.lora_B.weight"] @ lora[f"{prefix}.lora_A.weight"]
    torch.testing.assert_close(ours, base + delta)
    untouched = pipe.transformer.transformer_blocks[0].img_mod[1].weight
    assert torch.equal(
        untouched, plain.pipeline.transformer.transformer_blocks[0].img_mod[1].weight
    )

    config = pipe.scheduler.config
    assert config.base_shift == config.max_shift == pytest.approx(math.log(3))
    assert config.shift_terminal is None

    job = _job(num_inference_steps=4, true_cfg_scale=1.0)
    result = fast.generate(job, _ignore)
    assert not np.array_equal(_pixels(result.image), _pixels(plain.generate(job, _ignore).image))
    # Constant shift 3 on linspace(1, 1/4, 4): 3s / (1 + 2s).
    assert result.receipt["scheduler"]["sigmas"] == [1.0, 0.9, 0.75, 0.5, 0.0]
    lightning = result.receipt["options"]["lightning"]
    assert lightning["preset"] == "4-step" and lightning["fused"] is True
    assert lightning["lora"]["kind"] == "local" and len(lightning["lora"]["sha256"]) == 64
    assert lightning["lora"]["layers_fused"] == lightning["lora"]["layers_in_file"] == 24
    assert fast.loaded is not None
    assert fast.loaded.details["options"]["lightning"] == lightning
    assert fast.loaded.details["scheduler"]["base_shift"] == pytest.approx(math.log(3), abs=1e-6)


def test_a_kohya_style_lora_file_fuses_to_the_same_weights(
    tiny_weights_dir: Path, tiny_lora: Path, tmp_path: Path
) -> None:
    kohya = build_tiny_lora(tiny_weights_dir, tmp_path / "kohya.safetensors", style="kohya")
    a = _adapter(tiny_weights_dir, tmp_path / "a", lightning="8", lightning_lora=str(tiny_lora))
    b = _adapter(tiny_weights_dir, tmp_path / "b", lightning="8", lightning_lora=str(kohya))
    for (name, p), (_, q) in zip(
        a.pipeline.transformer.named_parameters(),
        b.pipeline.transformer.named_parameters(),
        strict=True,
    ):
        torch.testing.assert_close(p, q, msg=name)


def test_a_lora_that_does_not_fit_is_a_clear_load_error(
    tiny_weights_dir: Path, tmp_path: Path
) -> None:
    from safetensors.torch import save_file

    alien = tmp_path / "alien.safetensors"
    save_file(
        {
            "transformer.other_blocks.0.proj.lora_A.weight": torch.zeros(4, 8),
            "transformer.other_blocks.0.proj.lora_B.weight": torch.zeros(8, 4),
        },
        str(alien),
    )
    settings = Settings(
        data_dir=tmp_path,
        model_weights=str(tiny_weights_dir),
        lightning="4",
        lightning_lora=str(alien),
    )
    with pytest.raises(ModelLoadError, match="alien.safetensors"):
        QwenImageEditPlusAdapter(settings, device="cpu", warmup=False).load()


def test_fp8_on_the_cpu_is_refused_at_load(tiny_weights_dir: Path, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, model_weights=str(tiny_weights_dir), quantization="fp8_dynamic"
    )
    with pytest.raises(ModelLoadError, match="EDITSERVE_QUANTIZATION=none"):
        QwenImageEditPlusAdapter(settings, device="cpu", warmup=False).load()


def test_a_prequantized_transformer_refuses_lora_fusing(tiny_weights_dir: Path) -> None:
    from diffusers import QwenImageTransformer2DModel, TorchAoConfig
    from torchao.quantization import Float8WeightOnlyConfig

    quantized = QwenImageTransformer2DModel.from_pretrained(
        tiny_weights_dir,
        subfolder="transformer",
        dtype=torch.bfloat16,
        quantization_config=TorchAoConfig(Float8WeightOnlyConfig()),
    )

    class Pipe:  # only the attribute check_not_prequantized reads
        transformer = quantized

    with pytest.raises(ModelLoadError, match="fuses first, then quantises"):
        accel.check_not_prequantized(Pipe(), ModelOptions(lightning_steps=4))
    with pytest.raises(ModelLoadError, match="EDITSERVE_QUANTIZATION=none"):
        accel.check_not_prequantized(Pipe(), ModelOptions(quantization="fp8_weight_only"))


# --- step cache ---------------------------------------------------------------------------------


def test_first_block_cache_skips_blocks_and_is_reproducible(
    plain: Any, tiny_weights_dir: Path, tmp_path: Path
) -> None:
    job = _job(num_inference_steps=8)
    with BlockRuns(plain) as runs:
        reference = _pixels(plain.generate(job, _ignore).image)
    assert runs.count == 16  # 8 steps x (cond + uncond)

    cached = _adapter(
        tiny_weights_dir, tmp_path / "c", step_cache="first_block", step_cache_threshold=0.3
    )
    with BlockRuns(cached) as runs:
        first = cached.generate(job, _ignore)
    assert runs.count < 16  # some steps reused the cached residual
    assert not np.array_equal(_pixels(first.image), reference)
    assert first.receipt["options"]["step_cache"] == {"mode": "first_block", "threshold": 0.3}

    # A cancelled run leaves residuals behind; the next run must not see them.
    def cancel(step: int, total: int) -> None:
        if step == 5:
            raise GenerationCancelled()

    with pytest.raises(GenerationCancelled):
        cached.generate(_job(num_inference_steps=8, seed=99), cancel)
    assert np.array_equal(_pixels(cached.generate(job, _ignore).image), _pixels(first.image))

    # A threshold no step falls under never skips: same pixels as without the cache.
    strict = _adapter(
        tiny_weights_dir, tmp_path / "s", step_cache="first_block", step_cache_threshold=1e-9
    )
    with BlockRuns(strict) as runs:
        same = _pixels(strict.generate(job, _ignore).image)
    assert runs.count == 16
    assert np.array_equal(same, reference)


# --- attention backend ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["native", "_native_math"])
def test_attention_backend_through_the_dispatcher(
    plain: Any, tiny_weights_dir: Path, tmp_path: Path, backend: str
) -> None:
    adapter = _adapter(tiny_weights_dir, tmp_path, attention_backend=backend)
    processors = [block.attn.processor for block in adapter.pipeline.transformer.transformer_blocks]
    assert {p._attention_backend for p in processors} == {backend}
    job = _job()
    ours = _pixels(adapter.generate(job, _ignore).image)
    reference = _pixels(plain.generate(job, _ignore).image)
    if backend == "native":
        assert np.array_equal(ours, reference)
    else:  # another SDPA kernel: the same maths, other rounding
        assert np.abs(ours - reference).max() <= 2
    assert adapter.generate(job, _ignore).receipt["options"]["attention_backend"] == backend


# --- regional compile ------------------------------------------------------------------------


def test_compile_repeated_blocks_with_inductor_on_the_cpu(
    plain: Any, tiny_weights_dir: Path, tmp_path: Path
) -> None:
    compiled = _adapter(tiny_weights_dir, tmp_path, compile_repeated_blocks=True)
    blocks = compiled.pipeline.transformer.transformer_blocks
    assert all(block._compiled_call_impl is not None for block in blocks)
    job = _job(num_inference_steps=2)
    result = compiled.generate(job, _ignore)  # compiles here (C++ kernels: slow the first time)
    reference = _pixels(plain.generate(job, _ignore).image)
    assert np.abs(_pixels(result.image) - reference).max() <= 2
    assert result.receipt["options"]["compile_repeated_blocks"] is True


# --- FP8 and offload code paths (GPU features, their code run on the CPU) ------------------


def test_fp8_weight_only_quantisation_code_path(tiny_weights_dir: Path) -> None:
    """torchao's FP8 weight-only path runs on the CPU in bf16, so the quantisation code is
    exercised here even though the settings refuse FP8 on a CPU (no speed or memory gain)."""
    from diffusers import QwenImageEditPlusPipeline

    pipe: Any = QwenImageEditPlusPipeline.from_pretrained(tiny_weights_dir, dtype=torch.bfloat16)
    pipe.set_progress_bar_config(disable=True)
    info = accel.quantize_transformer(pipe.transformer, "fp8_weight_only")
    assert info["scheme"] == "fp8_weight_only" and info["layers"] == 2 * 14
    block = pipe.transformer.transformer_blocks[0]
    assert "torchao" in type(block.attn.to_q.weight).__module__
    assert type(pipe.transformer.img_in.weight) is torch.nn.Parameter  # outside the blocks
    with vae_image_area(
        64 * 64, variant=EDIT_2509
    ):  # bf16 on a CPU is slow: keep the VAE's copy small
        image = pipe(
            image=[_image()],
            prompt="hat",
            negative_prompt=" ",
            height=64,
            width=64,
            num_inference_steps=2,
            generator=torch.Generator().manual_seed(0),
        ).images[0]
    assert image.size == (64, 64)


@pytest.mark.parametrize("mode", ["group_offload", "model_offload"])
def test_offload_hooks_run_with_the_cpu_as_the_onload_device(
    plain: Any, tiny_weights_dir: Path, tmp_path: Path, mode: str
) -> None:
    """The settings refuse offload on a CPU (nothing to gain); with the CPU as both devices
    diffusers' offload hooks still run, so the placement code is exercised here."""
    adapter = _adapter(tiny_weights_dir, tmp_path)
    accel.place_pipeline(adapter.pipeline, ModelOptions(memory_mode=mode), "cpu")
    job = _job()
    offloaded = _pixels(adapter.generate(job, _ignore).image)
    # The hooks change float rounding at most: now and then one pixel lands one level off.
    assert np.abs(offloaded - _pixels(plain.generate(job, _ignore).image)).max() <= 1
