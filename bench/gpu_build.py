"""The Qwen-Image-Edit family's real architecture, built with random weights, no download.

Parameters are created on the meta device (no memory, no init cost), then each is
allocated on the target device in the target dtype and filled at random there: matrices
from N(0, 1/fan_in), norms' scales with 1, biases with 0 (values keep activations finite;
speed does not depend on them). Buffers (rotary tables and the like) are computed by the
modules' own constructors on the CPU and moved. The configurations are the real ones
(shared/MODEL_NOTES.md: transformer 60 blocks of 24 heads x 128, Qwen2.5-VL-7B text
encoder with its 32-block vision tower, the 16-channel VAE); ``scaled=True`` gives the
tiny twin's (src/editserve/models/qwen_image_edit/tiny/config.py) for CPU runs and CI.
The tokenizer is the tiny twin's (built offline), so only token ids differ from the real
one; the processor is Qwen2VLProcessor without its video slot (no torchvision needed).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from editserve.models.qwen_image_edit.tiny import config as tiny_config
from editserve.models.qwen_image_edit.variant import QwenVariant

# The real Qwen-Image-Edit-2509 configuration (public mirrors of the hub repo; MODEL_NOTES).
TRANSFORMER = {
    "patch_size": 2, "in_channels": 64, "out_channels": 16, "num_layers": 60,
    "attention_head_dim": 128, "num_attention_heads": 24, "joint_attention_dim": 3584,
    "guidance_embeds": False, "axes_dims_rope": (16, 56, 56),
}  # fmt: skip
VAE = {
    "base_dim": 96, "z_dim": 16, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2,
    "temperal_downsample": [False, True, True], "attn_scales": [], "dropout": 0.0,
    "latents_mean": [0.0] * 16, "latents_std": [1.0] * 16,
}  # fmt: skip
TEXT = {
    "vocab_size": 152064, "hidden_size": 3584, "intermediate_size": 18944,
    "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
    "rope_theta": 1000000.0,
    "rope_scaling": {"mrope_section": [16, 24, 24], "rope_type": "default", "type": "default"},
}  # fmt: skip
VISION = {
    "depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16,
    "out_hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2,
    "temporal_patch_size": 2, "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31],
}  # fmt: skip


@dataclass(frozen=True)
class Configs:
    transformer: dict[str, Any]
    vae: dict[str, Any]
    text: dict[str, Any]
    vision: dict[str, Any]


FULL = Configs(TRANSFORMER, VAE, TEXT, VISION)
SCALED = Configs(
    dict(tiny_config.TRANSFORMER_CONFIG),
    dict(tiny_config.VAE_CONFIG),
    dict(tiny_config.TEXT_CONFIG),
    dict(tiny_config.VISION_CONFIG),
)


@contextlib.contextmanager
def params_on_meta() -> Iterator[None]:
    """Every parameter registered inside goes to the meta device; buffers stay real."""
    import torch

    register = torch.nn.Module.register_parameter

    def on_meta(module: Any, name: str, param: Any) -> None:
        register(module, name, param)
        if param is not None and param.device.type != "meta":
            meta = torch.nn.Parameter(param.to("meta"), requires_grad=False)
            module._parameters[name] = meta

    torch.nn.Module.register_parameter = on_meta  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        torch.nn.Module.register_parameter = register  # type: ignore[method-assign]


def materialize(module: Any, device: str, dtype: Any, seed: int) -> Any:
    """Allocate every meta parameter on ``device`` in ``dtype`` with random values
    (``device="meta"``: leave them there, e.g. to count them)."""
    import torch

    if device == "meta":
        return module

    generator = torch.Generator(device=device).manual_seed(seed)
    done: dict[int, Any] = {}  # shared (tied) parameters stay shared
    for sub in module.modules():
        for name, param in list(sub._parameters.items()):
            if param is None:
                continue
            if id(param) not in done:
                done[id(param)] = torch.nn.Parameter(
                    _random(param.shape, name, device, dtype, generator), requires_grad=False
                )
            sub._parameters[name] = done[id(param)]
    module.to(device)  # the buffers
    module.eval()
    return module


def _random(shape: Any, name: str, device: str, dtype: Any, generator: Any) -> Any:
    import torch

    tensor = torch.empty(shape, dtype=dtype, device=device)
    if len(shape) <= 1:
        return tensor.fill_(1.0 if name == "weight" else 0.0)
    fan_in = 1
    for size in shape[1:]:
        fan_in *= int(size)
    return tensor.normal_(0.0, fan_in**-0.5, generator=generator)


def image_only_processor(tokenizer: Any) -> Any:
    """Qwen2VLProcessor without the video slot (which needs torchvision)."""
    from transformers import Qwen2VLImageProcessor, Qwen2VLProcessor
    from transformers.processing_utils import ProcessorMixin

    class ImageOnlyProcessor(Qwen2VLProcessor):  # type: ignore[misc]
        def __init__(self, image_processor: Any = None, tokenizer: Any = None, **kw: Any):
            self.image_token, self.video_token = "<|image_pad|>", "<|video_pad|>"
            self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
            self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
            ProcessorMixin.__init__(self, image_processor, tokenizer, **kw)

    size = dict(tiny_config.IMAGE_PROCESSOR_SIZE)
    return ImageOnlyProcessor(Qwen2VLImageProcessor(size=size), tokenizer)


def text_encoder(configs: Configs, tokenizer: Any, device: str, dtype: Any) -> Any:
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    ids = tokenizer.convert_tokens_to_ids
    text = {**configs.text, "bos_token_id": ids("<|endoftext|>"),
            "eos_token_id": ids("<|im_end|>"), "pad_token_id": ids("<|endoftext|>")}  # fmt: skip
    config = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=dict(configs.vision),
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    with params_on_meta():
        model = Qwen2_5_VLForConditionalGeneration(config)
    return materialize(model, device, dtype, seed=2)


def transformer(configs: Configs, variant: QwenVariant, device: str, dtype: Any) -> Any:
    from diffusers import QwenImageTransformer2DModel

    with params_on_meta():
        model = QwenImageTransformer2DModel(
            **{**configs.transformer, **variant.transformer_overrides}
        )
    return materialize(model, device, dtype, seed=0)


def vae(configs: Configs, device: str, dtype: Any) -> Any:
    from diffusers import AutoencoderKLQwenImage

    with params_on_meta():
        model = AutoencoderKLQwenImage(**configs.vae)
    return materialize(model, device, dtype, seed=1)


def pipeline(variant: QwenVariant, configs: Configs, device: str, dtype: Any) -> Any:
    """The variant's diffusers pipeline with every component at ``configs``' size."""
    import diffusers
    from diffusers import FlowMatchEulerDiscreteScheduler

    from editserve.models.qwen_image_edit.tiny.build import build_tokenizer

    tokenizer = build_tokenizer()
    pipeline_type: Any = getattr(diffusers, variant.pipeline_class)
    pipe = pipeline_type(
        scheduler=FlowMatchEulerDiscreteScheduler(**tiny_config.SCHEDULER_CONFIG),
        vae=vae(configs, device, dtype),
        text_encoder=text_encoder(configs, tokenizer, device, dtype),
        tokenizer=tokenizer,
        processor=image_only_processor(tokenizer),
        transformer=transformer(configs, variant, device, dtype),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def parameter_count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


def release(device: str) -> None:
    """Give memory back after a pipeline is dropped."""
    import torch

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
