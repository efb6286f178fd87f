"""The GPU benchmark's code, on the CPU: the full-size architectures it builds have the real
parameter counts, its FLOP floor matches the public figure, and a scaled-down run goes
through every step (build, placement, pipeline call, step clock, table) end to end. No
timing is asserted: the figures are for people to read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import gpu_build, gpu_flops  # noqa: E402


def test_full_size_architectures_have_the_real_parameter_counts() -> None:
    """Built on the meta device (no memory): bf16 bytes / 2 of the real weight files."""
    from diffusers import AutoencoderKLQwenImage, QwenImageTransformer2DModel

    from editserve.models.qwen_image_edit.tiny.build import build_tokenizer

    with gpu_build.params_on_meta():
        transformer = QwenImageTransformer2DModel(**gpu_build.TRANSFORMER)
        vae = AutoencoderKLQwenImage(**gpu_build.VAE)
    assert all(p.device.type == "meta" for p in transformer.parameters())
    # transformer 40,861,028,288 bytes, vae 253,806,966 bytes (MODEL_NOTES)
    assert gpu_build.parameter_count(transformer) == pytest.approx(40_861_028_288 / 2, rel=1e-3)
    assert gpu_build.parameter_count(vae) == pytest.approx(253_806_966 / 2, rel=1e-2)
    # the text encoder: 16,584,414,544 bytes; materialised on "meta" too
    encoder = gpu_build.text_encoder(gpu_build.FULL, build_tokenizer(), "meta", None)
    assert gpu_build.parameter_count(encoder) == pytest.approx(16_584_414_544 / 2, rel=1e-3)


def test_flop_floor_matches_the_public_figure() -> None:
    """~8.4k tokens at 1024² with one reference: ~167 TFLOP per forward (MODEL_NOTES)."""
    flops = gpu_flops.forward_flops(gpu_build.TRANSFORMER, 8192, 220)
    assert flops == pytest.approx(167e12, rel=0.03)
    # attention grows with the square of the tokens: three references cost > 2x one
    three = gpu_flops.forward_flops(gpu_build.TRANSFORMER, 4 * 4096, 600)
    assert three > 2 * flops
    assert gpu_flops.table_peak("NVIDIA H200") == 989e12
    assert gpu_flops.table_peak("NVIDIA H100 PCIe") == 756e12
    assert gpu_flops.table_peak("NVIDIA H100 80GB HBM3") == 989e12
    assert gpu_flops.table_peak("Some Future GPU") is None


def test_materialize_fills_every_parameter_and_keeps_ties() -> None:
    import torch

    with gpu_build.params_on_meta():
        model = torch.nn.Sequential(
            torch.nn.Linear(8, 16), torch.nn.LayerNorm(16), torch.nn.Linear(16, 8)
        )
        model[0].weight = torch.nn.Parameter(torch.empty(16, 8))
        model[2].weight = model[0].weight  # tied (shapes as in an embedding / lm head)
    assert model[0].weight.device.type == "meta"
    gpu_build.materialize(model, "cpu", torch.bfloat16, seed=0)
    linear, norm = model[0], model[1]
    assert linear.weight.device.type == "cpu" and linear.weight.dtype == torch.bfloat16
    assert torch.isfinite(linear.weight).all() and linear.weight.float().std() > 0
    assert model[2].weight is linear.weight  # still one tensor
    assert torch.equal(norm.weight.float(), torch.ones(16))
    assert torch.equal(norm.bias.float(), torch.zeros(16))


@pytest.mark.slow
def test_cpu_scaled_run_goes_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.gpu", "--cpu-scaled", "--steps", "2",
         "--models", "qwen-image-edit-plus,qwen-image-edit", "--presets", "default,lightning-4",
         "--inputs", "1,2", "--area", str(64 * 64), "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| model | preset | memory | inputs |" in done.stdout
    results = json.loads(out.read_text())["results"]
    # plus: 2 input counts x 2 presets; v1 takes one image: 1 x 2 presets
    got = {(r["model"], r["preset"], r["inputs"]) for r in results}
    assert got == {
        *{("qwen-image-edit-plus", p, n) for p in ("default", "lightning-4") for n in (1, 2)},
        ("qwen-image-edit", "default", 1),
        ("qwen-image-edit", "lightning-4", 1),
    }
    for r in results:
        assert r["note"] == "" or r["note"].endswith("run"), r["note"]
        assert r["steps_run"] == 2 and r["memory"] == "none"
        assert r["step_s"] > 0 and r["floor_step_s"] > 0 and r["image_s"] > r["step_s"]
        assert r["image_tokens"] > 0 and r["text_tokens"] > 0
        # CFG runs the transformer twice per step, the Lightning presets once
        assert r["forwards_per_step"] == (2 if r["preset"] == "default" else 1)
        assert {"text_encode", "vae_encode", "denoise", "decode"} <= set(r["stages"])
    plus = {(r["preset"], r["inputs"]): r for r in results if r["model"] == "qwen-image-edit-plus"}
    # each input image adds its latents to the image sequence
    assert plus[("lightning-4", 2)]["image_tokens"] > plus[("lightning-4", 1)]["image_tokens"]
