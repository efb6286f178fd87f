"""The FLOP floor of a denoising step, from the shapes the transformer actually saw.

QwenImageTransformer2DModel is a dual-stream MMDiT: per block, the image tokens (output
latents plus every input image's latents) and the text tokens each get their own Q/K/V
and output projections (4 matmuls of D x D) and their own GELU MLP (D -> 4D -> D), and
attend jointly over all tokens. With N = image + text tokens and D = heads x head_dim:

    per block:   2·N·D²·(4 + 8) = 24·N·D²   (projections and MLP)
               + 2·2·N²·D        =  4·N²·D    (Q·Kᵀ and attention·V)
    per forward: blocks x that, plus the input/output projections (img_in, txt_in, proj_out)

At 1024² with one 1 MP input (~8.4k tokens) that is ~167 TFLOP per forward, the public
figure (MODEL_NOTES). A step runs 2 forwards with CFG, 1 without. The floor is FLOPs over
the GPU's peak dense bf16 rate (table below, or ``--peak-tflops``, or a measured matmul).
"""

from __future__ import annotations

import time
from typing import Any

# Dense (no sparsity) bf16 tensor-core peaks, TFLOP/s, from the vendors' data sheets;
# matched against torch.cuda.get_device_name() in this order (first match wins).
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("GB200", 2500.0),
    ("B200", 2250.0),
    ("H200", 989.0),
    ("GH200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),
    ("H800", 989.0),
    ("H20", 148.0),
    ("A100", 312.0),
    ("A800", 312.0),
    ("L40S", 362.0),
    ("L40", 181.0),
    ("RTX 6000 Ada", 364.0),
    ("RTX 5090", 209.0),
    ("RTX 4090", 165.0),
    ("RTX 3090", 71.0),
    ("A6000", 155.0),
    ("A40", 150.0),
    ("A10G", 70.0),
    ("A10", 125.0),
    ("L4", 121.0),
    ("T4", 65.0),
)


def table_peak(device_name: str) -> float | None:
    """The data-sheet peak (FLOP/s) of a GPU by name, or None if not in the table."""
    for key, tflops in PEAK_BF16_TFLOPS:
        if key.lower() in device_name.lower():
            return tflops * 1e12
    return None


def measured_peak(device: str, dtype: Any, size: int = 4096, repeat: int = 5) -> float:
    """FLOP/s of a square matmul on ``device`` (the best of ``repeat``): an achievable
    peak where no data sheet applies (a CPU, an unknown GPU)."""
    import torch

    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    a @ b  # warm-up
    sync()
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def forward_flops(config: Any, image_tokens: int, text_tokens: int) -> float:
    """FLOPs of one transformer forward pass with these sequence lengths."""
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    blocks = int(config["num_layers"])
    tokens = image_tokens + text_tokens
    per_block = 24 * tokens * dim**2 + 4 * tokens**2 * dim
    channels = int(config["in_channels"])
    out = int(config["patch_size"]) ** 2 * int(config["out_channels"])
    edges = 2 * image_tokens * dim * (channels + out)
    edges += 2 * text_tokens * int(config["joint_attention_dim"]) * dim
    return float(blocks * per_block + edges)


class ShapeProbe:
    """Records the sequence lengths of every transformer forward in a call (with CFG the
    conditional and the unconditional pass differ in text length)."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []

    def attach(self, transformer: Any) -> Any:
        return transformer.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        hidden = kwargs.get("hidden_states", args[0] if args else None)
        text = kwargs.get("encoder_hidden_states")
        self.shapes.append(
            (int(hidden.shape[1]) if hidden is not None else 0,
             int(text.shape[1]) if text is not None else 0)
        )  # fmt: skip

    def flops(self, config: Any) -> float:
        """FLOPs of every forward seen."""
        return sum(forward_flops(config, image, text) for image, text in self.shapes)
