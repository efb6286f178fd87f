"""The tiny model's architecture as plain data: its components' configurations (the real
Qwen-Image classes, scaled down), its tokenizer's special tokens and training text.
build.py builds and saves the model from these.

One tokenizer, text encoder, VAE and scheduler serve every member of the family, edit and
text-to-image alike (the real repos share those architectures): only the transformer's
config differences and the pipeline class differ from member to member.
"""

from __future__ import annotations

from typing import Any

# Seeds the random weights: the build is deterministic.
SEED = 20250922

# What the pipeline wraps every prompt in (QwenImageEditPlusPipeline.prompt_template_encode)
# and how many leading token positions it drops from the embeddings. The drop is meant to
# remove exactly the system prefix, so our tokenizer must encode that prefix to 64 tokens
# like Qwen's real one does.
PROMPT_TEMPLATE = (
    "<|im_start|>system\nDescribe the key features of the input image (color, shape, size, "
    "texture, objects, background), then explain how the user's text instruction should "
    "alter or modify the image. Generate a new image that meets the user's requirements "
    "while maintaining consistency with the original input where appropriate.<|im_end|>\n"
    "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
)
SYSTEM_PREFIX = PROMPT_TEMPLATE.split("{}")[0]
SYSTEM_PREFIX_TOKENS = 64
# The text-to-image pipeline's template (QwenImagePipeline.prompt_template_encode) and the
# positions it drops (prompt_template_encode_start_idx = 34): the same tokenizer must encode
# its system prefix to 34 tokens, as Qwen's real one does.
TEXT_TO_IMAGE_TEMPLATE = (
    "<|im_start|>system\nDescribe the image by detailing the color, shape, size, texture, "
    "quantity, text, spatial relationships of the objects and background:<|im_end|>\n"
    "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
)
TEXT_TO_IMAGE_PREFIX = TEXT_TO_IMAGE_TEMPLATE.split("{}")[0]
TEXT_TO_IMAGE_PREFIX_TOKENS = 34

# Qwen2.5-VL's special tokens, in their real order (ids 151643..151656 in the real vocab).
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

TEXT_VOCAB_SIZE = 512
# 256 byte tokens + learned merges + the 14 special tokens fill the text vocabulary.
BPE_TRAIN_VOCAB = TEXT_VOCAB_SIZE - len(SPECIAL_TOKENS)
# The system prefixes are repeated in the training corpus so that their merges outrank
# every other sentence's: each of their words becomes one token, like in Qwen's real
# vocabulary, and the prefixes encode to 64 and 34 tokens whatever else the budget is spent on.
PREFIX_WEIGHT = 8


def _bare(prefix: str) -> str:
    return prefix.replace("<|im_start|>", "").replace("<|im_end|>", "")


TOKENIZER_CORPUS = (
    *[_bare(SYSTEM_PREFIX)] * PREFIX_WEIGHT,
    *[_bare(TEXT_TO_IMAGE_PREFIX)] * PREFIX_WEIGHT,
    "Picture 1: Picture 2: Picture 3: ",
    "Make the sky blue and add a red balloon in the corner.",
    "Replace the text on the sign with 'Hello World'.",
    "Put the person from Picture 1 next to the product in Picture 2.",
    "Change the background to a beach at sunset, keep the face unchanged.",
    "Remove the cat. Turn the photo into a watercolor painting, 4k, detailed.",
    "把背景换成海边日落，保持人物不变。",
    "assistant user system",
)

TRANSFORMER_CONFIG: dict[str, Any] = {
    "patch_size": 2,
    "in_channels": 64,
    "out_channels": 16,
    "num_layers": 2,
    "attention_head_dim": 16,
    "num_attention_heads": 2,
    "joint_attention_dim": 16,
    "guidance_embeds": False,
    "axes_dims_rope": (8, 4, 4),
}
VAE_CONFIG: dict[str, Any] = {
    "base_dim": 8,
    "z_dim": 16,
    "dim_mult": [1, 2, 4, 4],
    "num_res_blocks": 1,
    "temperal_downsample": [False, True, True],
    "latents_mean": [0.0] * 16,
    "latents_std": [1.0] * 16,
}
TEXT_CONFIG: dict[str, Any] = {
    "vocab_size": TEXT_VOCAB_SIZE,
    "hidden_size": 16,
    "intermediate_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
    "rope_theta": 1000000.0,
}
VISION_CONFIG: dict[str, Any] = {
    "depth": 2,
    "hidden_size": 16,
    "intermediate_size": 16,
    "num_heads": 2,
    "out_hidden_size": 16,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [1],
}
# The Qwen-Image family's scheduler configuration.
SCHEDULER_CONFIG: dict[str, Any] = {
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
# The real processor's pixel limits (min_pixels / max_pixels).
IMAGE_PROCESSOR_SIZE = {"shortest_edge": 3136, "longest_edge": 12845056}
