"""Does a LoRA file fit the transformer? Read from its safetensors header alone (no torch).

A safetensors file starts with an 8-byte little-endian length and a JSON header naming
every tensor with its dtype and shape: reading it costs one small read, so the API checks
a request's local LoRA files at enqueue. Each LoRA key is mapped to the layer it patches
(diffusers/peft ``lora_A``/``lora_B``, kohya ``lora_down``/``lora_up`` + ``alpha``, with
or without a ``transformer.`` / ``diffusion_model.`` / ``lora_unet_`` prefix) and its shape
checked against that layer's (in, out) features, computed from the transformer config.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from editserve.models.qwen_image_edit.tiny.config import (
    TRANSFORMER_CONFIG as TINY_TRANSFORMER_CONFIG,
)

# The real Qwen-Image transformer (transformer/config.json of Qwen/Qwen-Image-Edit-2509,
# -2511, Qwen-Image-Edit, Qwen-Image and Qwen-Image-2512: the same 20B MMDiT; 2511 adds
# only zero_cond_t).
REAL_TRANSFORMER_CONFIG: dict[str, Any] = {
    "patch_size": 2,
    "in_channels": 64,
    "out_channels": 16,
    "num_layers": 60,
    "attention_head_dim": 128,
    "num_attention_heads": 24,
    "joint_attention_dim": 3584,
}
# A safetensors header larger than this is not a LoRA's (a 60-block LoRA's is ~200 KB).
MAX_HEADER_BYTES = 16 * 1024 * 1024
# Key suffixes of LoRA tensors, and which side of the product each is.
_SUFFIXES = (
    (".lora_A.weight", "A"),
    (".lora_B.weight", "B"),
    (".lora_down.weight", "A"),
    (".lora_up.weight", "B"),
    (".lora.down.weight", "A"),
    (".lora.up.weight", "B"),
    (".alpha", "alpha"),
    (".diff_b", "diff_b"),
    (".diff", "diff"),
)
_PREFIXES = ("base_model.model.", "transformer.", "diffusion_model.", "model.")


class LoraMismatch(ValueError):
    """The file is not a LoRA of this transformer; the message says why (one line)."""


def read_header(file: Path) -> dict[str, tuple[str, list[int]]]:
    """Every tensor of a safetensors file: name → (dtype, shape). Raises LoraMismatch."""
    try:
        with open(file, "rb") as handle:
            head = handle.read(8)
            if len(head) != 8:
                raise LoraMismatch("is not a safetensors file (too short)")
            (length,) = struct.unpack("<Q", head)
            if length > MAX_HEADER_BYTES:
                raise LoraMismatch("is not a safetensors file (header too large)")
            header = json.loads(handle.read(length))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise LoraMismatch("is not a readable safetensors file") from None
    if not isinstance(header, dict):
        raise LoraMismatch("is not a safetensors file (bad header)")
    tensors: dict[str, tuple[str, list[int]]] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("shape"), list):
            raise LoraMismatch("is not a safetensors file (bad header)")
        tensors[name] = (str(entry.get("dtype")), [int(n) for n in entry["shape"]])
    return tensors


def layer_shapes(config: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """The transformer's linear layers a LoRA may patch: module name → (in, out) features."""
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    patch = int(config["patch_size"])
    shapes: dict[str, tuple[int, int]] = {
        "img_in": (int(config["in_channels"]), dim),
        "txt_in": (int(config["joint_attention_dim"]), dim),
        "time_text_embed.timestep_embedder.linear_1": (256, dim),
        "time_text_embed.timestep_embedder.linear_2": (dim, dim),
        "norm_out.linear": (dim, 2 * dim),
        "proj_out": (dim, patch * patch * int(config["out_channels"])),
    }
    block = {
        **{f"attn.{n}": (dim, dim) for n in ("to_q", "to_k", "to_v", "add_q_proj")},
        **{f"attn.{n}": (dim, dim) for n in ("add_k_proj", "add_v_proj", "to_add_out")},
        "attn.to_out.0": (dim, dim),
        "img_mod.1": (dim, 6 * dim),
        "txt_mod.1": (dim, 6 * dim),
        "img_mlp.net.0.proj": (dim, 4 * dim),
        "img_mlp.net.2": (4 * dim, dim),
        "txt_mlp.net.0.proj": (dim, 4 * dim),
        "txt_mlp.net.2": (4 * dim, dim),
    }
    for index in range(int(config["num_layers"])):
        for name, shape in block.items():
            shapes[f"transformer_blocks.{index}.{name}"] = shape
    return shapes


def check_fits(tensors: Mapping[str, tuple[str, list[int]]], config: Mapping[str, Any]) -> int:
    """Raise LoraMismatch unless every LoRA tensor fits a layer of `config`'s transformer;
    return how many layers it patches."""
    shapes = layer_shapes(config)
    underscored = {name.replace(".", "_"): name for name in shapes}
    ranks: dict[str, dict[str, list[int]]] = {}
    for key, (_dtype, shape) in tensors.items():
        module, side = _split_key(key)
        if side is None:
            raise LoraMismatch(f"has a tensor that is not a LoRA weight: {key}")
        layer = module if module in shapes else underscored.get(module)
        if layer is None:
            raise LoraMismatch(f"targets a layer this model does not have: {key}")
        ranks.setdefault(layer, {})[side] = shape
        _check_shape(key, side, shape, shapes[layer])
    for layer, sides in ranks.items():
        a, b = sides.get("A"), sides.get("B")
        if (a is None) != (b is None):
            raise LoraMismatch(f"has only one of the two LoRA matrices of {layer}")
        if a is not None and b is not None and a[0] != b[1]:
            raise LoraMismatch(f"has LoRA matrices of different ranks on {layer}")
    patched = sum(1 for sides in ranks.values() if "A" in sides or "diff" in sides)
    if patched == 0:
        raise LoraMismatch("has no LoRA weights")
    return patched


def check_file(file: Path, configs: Sequence[Mapping[str, Any]]) -> int:
    """Raise LoraMismatch unless the file fits one of `configs` (the transformer configs
    the served weights may have); return how many layers it patches."""
    tensors = read_header(file)
    problem: LoraMismatch | None = None
    for config in configs:
        try:
            return check_fits(tensors, config)
        except LoraMismatch as exc:
            problem = problem or exc
    assert problem is not None
    raise problem


def candidate_configs(weights: str, tiny_overrides: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The transformer configs a model's weights setting may load: the tiny twin's, a
    local folder's own, or the real one (``auto``: the real one or, without a GPU, tiny)."""
    tiny = {**TINY_TRANSFORMER_CONFIG, **tiny_overrides}
    value = (weights or "auto").strip()
    if value.lower() == "tiny":
        return [tiny]
    if value.lower() == "auto":
        return [REAL_TRANSFORMER_CONFIG, tiny]
    config_file = Path(value).expanduser() / "transformer" / "config.json"
    if config_file.is_file():
        try:
            return [json.loads(config_file.read_text())]
        except (OSError, ValueError):
            pass
    return [REAL_TRANSFORMER_CONFIG]


def _split_key(key: str) -> tuple[str, str | None]:
    """The layer a LoRA key patches (its name in the transformer) and which tensor it is."""
    for suffix, side in _SUFFIXES:
        if key.endswith(suffix):
            return _layer_name(key[: -len(suffix)]), side
    return key, None


def _layer_name(module: str) -> str:
    module = re.sub(r"\.default$", "", module)
    for prefix in _PREFIXES:
        if module.startswith(prefix):
            module = module[len(prefix) :]
            break
    return module.removeprefix("lora_unet_")


def _check_shape(key: str, side: str, shape: list[int], layer: tuple[int, int]) -> None:
    fan_in, fan_out = layer
    ok = {
        "A": len(shape) == 2 and shape[1] == fan_in,
        "B": len(shape) == 2 and shape[0] == fan_out,
        "alpha": len(shape) <= 1,
        "diff": shape == [fan_out, fan_in],
        "diff_b": shape == [fan_out],
    }[side]
    if not ok:
        raise LoraMismatch(
            f"does not fit this model: {key} has shape {shape}, the layer is "
            f"{fan_in} -> {fan_out} features"
        )
