"""The memory figures of Qwen-Image-Edit-2509 and what each way of running it needs.

Weight bytes are those of the published bf16 files at the pinned revision (MODEL_NOTES);
activations and overheads are estimates, rounded up. ``memory_estimates`` is what
``editserve doctor`` compares with the GPUs it finds and what the README's GPU guide shows.
Every member of the family, the text-to-image ones too, has this transformer, text encoder
and VAE architecture (the same tensors, so the same bf16 bytes): one set of figures. A
text-to-image call has no input-image tokens, so its activations stay under the estimate.
"""

from __future__ import annotations

from typing import Any

from editserve.core.settings import Settings
from editserve.models.memory import MemoryEstimate

# bf16 bytes of the published files (Qwen/Qwen-Image-Edit-2509@d3968ef9…)
TRANSFORMER_BYTES = 40_861_028_288
TEXT_ENCODER_BYTES = 16_584_414_544
VAE_BYTES = 253_806_966
TRANSFORMER_BLOCKS = 60
# Share of the transformer's weights in the linear layers of its 60 blocks: what FP8 halves.
BLOCK_LINEAR_SHARE = 0.99
# The largest single layer (the text encoder's token embedding, 152064 x 3584 in bf16).
LARGEST_LAYER_BYTES = 152_064 * 3_584 * 2
# Estimates: activations at ~1 MP with one input image and batch 1; CUDA context and
# allocator slack; the worker process itself in host RAM.
ACTIVATION_BYTES = 4_000_000_000
CUDA_OVERHEAD_BYTES = 1_500_000_000
PROCESS_RAM_BYTES = 8_000_000_000
FP8_CAPABILITY = (8, 9)

# On the model card (GET /api/ai/models/…): where the estimates come from.
MEMORY_CARD: dict[str, Any] = {
    "weights_bytes": {
        "transformer": TRANSFORMER_BYTES,
        "text_encoder": TEXT_ENCODER_BYTES,
        "vae": VAE_BYTES,
    },
    "weights_dtype": "bf16",
    "transformer_blocks": TRANSFORMER_BLOCKS,
    "activation_bytes_estimate": ACTIVATION_BYTES,
}


def fp8_transformer_bytes() -> int:
    """The transformer with its block linears in FP8 (one byte per weight)."""
    blocks = TRANSFORMER_BYTES * BLOCK_LINEAR_SHARE
    return round(TRANSFORMER_BYTES - blocks + blocks / 2)


def _estimate(
    memory_mode: str,
    quantization: str,
    weights_on_gpu: float,
    host: float,
    cost: str,
    fp8_cores: bool = False,
) -> MemoryEstimate:
    return MemoryEstimate(
        settings=(("EDITSERVE_MEMORY_MODE", memory_mode), ("EDITSERVE_QUANTIZATION", quantization)),
        gpu_bytes=round(weights_on_gpu + ACTIVATION_BYTES + CUDA_OVERHEAD_BYTES),
        host_bytes=round(host + PROCESS_RAM_BYTES),
        cost=cost,
        min_capability=FP8_CAPABILITY if fp8_cores else None,
    )


def memory_estimates(settings: Settings) -> list[MemoryEstimate]:
    """Every memory mode x quantisation that can work, fastest first."""
    bf16, fp8 = TRANSFORMER_BYTES, fp8_transformer_bytes()
    others = TEXT_ENCODER_BYTES + VAE_BYTES
    block = TRANSFORMER_BYTES * BLOCK_LINEAR_SHARE / TRANSFORMER_BLOCKS
    streamed = 2 * max(1, settings.group_offload_blocks) * block  # one group running, one coming
    load_peak = max(bf16, TEXT_ENCODER_BYTES)  # components pass through host RAM one by one
    fp8_cost = "weights quantised at start-up"
    return [
        _estimate(
            "none",
            "fp8_dynamic",
            fp8 + others,
            load_peak,
            f"fastest (~1.3x, W8A8); {fp8_cost}",
            True,
        ),
        _estimate("none", "none", bf16 + others, load_peak, "fast (bf16)"),
        _estimate("none", "fp8_weight_only", fp8 + others, load_peak, f"bf16 speed; {fp8_cost}"),
        _estimate(
            "model_offload",
            "fp8_dynamic",
            max(fp8, TEXT_ENCODER_BYTES) + VAE_BYTES,
            fp8 + others,
            "moves ~37 GB over PCIe per request",
            True,
        ),
        _estimate(
            "model_offload",
            "fp8_weight_only",
            max(fp8, TEXT_ENCODER_BYTES) + VAE_BYTES,
            fp8 + others,
            "moves ~37 GB over PCIe per request",
        ),
        _estimate(
            "model_offload",
            "none",
            bf16 + VAE_BYTES,
            bf16 + others,
            "moves ~58 GB over PCIe per request: ~1-3 s",
        ),
        _estimate(
            "group_offload",
            "none",
            TEXT_ENCODER_BYTES + VAE_BYTES + streamed,
            bf16 + others,
            "streams the transformer every step: slow without EDITSERVE_LIGHTNING",
        ),
        _estimate(
            "sequential_offload",
            "none",
            LARGEST_LAYER_BYTES + VAE_BYTES,
            bf16 + others,
            "layer by layer: minutes per image",
        ),
    ]


__all__ = ["MEMORY_CARD", "fp8_transformer_bytes", "memory_estimates"]
