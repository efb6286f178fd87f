"""A random LoRA for the tiny model, standing in for the Lightning LoRA in tests.

torch/diffusers/peft are imported inside the functions, like in tiny.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# Linear layers of a QwenImageTransformerBlock a LoRA can target (the tiny model's names
# are the real model's names: same class).
LORA_TARGETS = (
    "attn.to_q",
    "attn.to_k",
    "attn.to_v",
    "attn.to_out.0",
    "attn.add_q_proj",
    "attn.add_k_proj",
    "attn.add_v_proj",
    "attn.to_add_out",
    "img_mlp.net.0.proj",
    "img_mlp.net.2",
    "txt_mlp.net.0.proj",
    "txt_mlp.net.2",
)
LORA_SEED = 20251010


def build_tiny_lora(
    weights_folder: Path,
    out_file: Path,
    *,
    rank: int = 4,
    scale: float = 0.5,
    style: str = "diffusers",
    seed: int = LORA_SEED,
) -> Path:
    """A random LoRA for the tiny transformer, standing in for the Lightning LoRA.

    Built with peft on the tiny model's own module names (those of the real transformer's
    blocks). ``style="diffusers"`` saves it the way diffusers' ``save_lora_weights`` does
    (``transformer.<module>.lora_A/B.weight``); ``style="kohya"`` writes the
    ``<module>.lora_down/lora_up.weight`` + ``.alpha`` layout many community LoRAs use,
    which diffusers' Qwen-Image loader converts on load.
    """
    state = _random_lora_state(weights_folder, rank=rank, scale=scale, seed=seed)
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    if style == "diffusers":
        _save_diffusers(state, out_file)
    elif style == "kohya":
        _save_kohya(state, out_file, rank)
    else:
        raise ValueError(f"unknown LoRA style {style!r}")
    return out_file


def _random_lora_state(
    weights_folder: Path, *, rank: int, scale: float, seed: int
) -> dict[str, Any]:
    """peft's state dict of a random LoRA on the blocks' layers, B scaled by `scale`."""
    import torch
    from diffusers import QwenImageTransformer2DModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    transformer: Any = QwenImageTransformer2DModel.from_pretrained(
        weights_folder, subfolder="transformer", dtype=torch.float32
    )
    torch.manual_seed(seed)
    config = LoraConfig(
        r=rank,
        lora_alpha=rank,
        # A string is a full-match regex for peft: the blocks' layers, nothing else.
        target_modules=r"transformer_blocks\.\d+\.(" + "|".join(map(re.escape, LORA_TARGETS)) + ")",
        init_lora_weights=False,  # random A and B: a LoRA that changes the output
    )
    transformer.add_adapter(config)
    return {
        key: (value * scale if ".lora_B." in key else value).contiguous()
        for key, value in get_peft_model_state_dict(transformer).items()
    }


def _save_diffusers(state: dict[str, Any], out_file: Path) -> None:
    from diffusers import QwenImagePipeline

    QwenImagePipeline.save_lora_weights(
        out_file.parent, transformer_lora_layers=state, weight_name=out_file.name
    )


def _save_kohya(state: dict[str, Any], out_file: Path, rank: int) -> None:
    import torch
    from safetensors.torch import save_file

    converted: dict[str, Any] = {}
    for key, value in state.items():
        module = key.rsplit(".lora_", 1)[0]
        if ".lora_A." in key:
            converted[f"{module}.lora_down.weight"] = value
            converted[f"{module}.alpha"] = torch.tensor(float(rank))
        else:
            converted[f"{module}.lora_up.weight"] = value
    save_file(converted, str(out_file))
