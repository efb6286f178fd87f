"""A tiny random-weight model with the exact architecture of Qwen-Image-Edit-2509.

Real weights (~58 GB) cannot be downloaded on build machines, so editserve builds this
model offline and loads it through the very same ``QwenImageEditPlusPipeline.from_pretrained``
path as the real folder. Everything but picture quality is then real: tokenising, the VL
text encoder with image tokens, both CFG passes, the VAE and the output sizes.

The build is deterministic (fixed seeds, deterministic BPE training), idempotent, and safe
when several processes start at once: each builds in a private temporary folder next to
the target and renames it into place atomically; the first rename wins.

Run ``python -m editserve.models.qwen_edit_plus.tiny OUT_DIR`` to build one by hand.

torch/diffusers/transformers are imported inside the functions so that importing this
module stays cheap (the API process must not import torch).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

logger = logging.getLogger("editserve.model")

# Bump when the builder changes what it writes: an older folder is then rebuilt.
TINY_FORMAT_VERSION = 1
MARKER_FILE = "editserve-tiny.json"
PIPELINE_CLASS = "QwenImageEditPlusPipeline"
COMPONENTS = ("transformer", "vae", "text_encoder", "tokenizer", "processor", "scheduler")
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
# The system prefix is repeated in the training corpus so that its merges outrank every
# other sentence's: each of its words becomes one token, like in Qwen's real vocabulary,
# and the prefix encodes to 64 tokens whatever else the budget is spent on.
PREFIX_WEIGHT = 8

TOKENIZER_CORPUS = (
    *[SYSTEM_PREFIX.replace("<|im_start|>", "").replace("<|im_end|>", "")] * PREFIX_WEIGHT,
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


def is_complete(folder: Path) -> bool:
    """True if `folder` holds a finished tiny model written by this builder version."""
    marker = folder / MARKER_FILE
    try:
        info = json.loads(marker.read_text())
        index = json.loads((folder / "model_index.json").read_text())
    except (OSError, ValueError):
        return False
    if info.get("format_version") != TINY_FORMAT_VERSION:
        return False
    if index.get("_class_name") != PIPELINE_CLASS:
        return False
    return all((folder / name).is_dir() for name in COMPONENTS)


def ensure_tiny_weights(folder: Path) -> Path:
    """Return `folder` holding the tiny model, building it first if needed.

    Safe to call from several processes at once: each builds privately and the first
    atomic rename wins; the others discard their copy.
    """
    folder = Path(folder).expanduser().absolute()
    if is_complete(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        logger.info("building the tiny random-weight model in %s", folder)
        build_tiny_pipeline_folder(tmp)
        _move_into_place(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if not is_complete(folder):
        raise RuntimeError(f"tiny model folder {folder} is incomplete after building it")
    return folder


def _move_into_place(tmp: Path, folder: Path) -> None:
    try:
        os.rename(tmp, folder)
        return
    except OSError:
        if is_complete(folder):  # another process won the race
            return
        if not folder.exists():
            raise
    # A stale or broken folder (older builder version, interrupted manual copy): move it
    # aside atomically, then put ours in. If another process does the same at the same
    # time, whoever renames second finds a complete folder and keeps it.
    trash = folder.parent / f".{folder.name}.stale-{uuid.uuid4().hex[:8]}"
    with contextlib.suppress(OSError):
        os.rename(folder, trash)
    try:
        os.rename(tmp, folder)
    except OSError:
        if not is_complete(folder):
            raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def build_tokenizer() -> Any:
    """A byte-level BPE Qwen2Tokenizer whose system prefix encodes to exactly 64 tokens."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.trainers import BpeTrainer
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    # Train with exactly the normaliser and pre-tokeniser Qwen2Tokenizer uses.
    raw = Tokenizer(models.BPE())
    raw.normalizer = normalizers.NFC()
    raw.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    raw.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=BPE_TRAIN_VOCAB,
        min_frequency=1,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    raw.train_from_iterator(list(TOKENIZER_CORPUS), trainer=trainer)
    state = json.loads(raw.to_str())
    vocab: dict[str, int] = state["model"]["vocab"]
    merges: Any = [
        tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["model"]["merges"]
    ]
    n_learned = len(vocab)
    # Special tokens right after the learned vocabulary, in Qwen's order.
    for offset, token in enumerate(SPECIAL_TOKENS):
        vocab[token] = n_learned + offset
    if len(vocab) > TEXT_VOCAB_SIZE:
        raise RuntimeError(f"tiny tokenizer too large: {len(vocab)} > {TEXT_VOCAB_SIZE}")

    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,  # type: ignore[arg-type]  # byte-level BPE has no unknowns
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        errors="replace",
        model_max_length=32768,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS)})
    for offset, token in enumerate(SPECIAL_TOKENS):
        got = tokenizer.convert_tokens_to_ids(token)
        if got != n_learned + offset:
            raise RuntimeError(f"special token {token} got id {got}, not {n_learned + offset}")

    n_prefix = len(tokenizer(SYSTEM_PREFIX)["input_ids"])
    if n_prefix != SYSTEM_PREFIX_TOKENS:
        raise RuntimeError(
            f"tiny tokenizer encodes the system prefix to {n_prefix} tokens, "
            f"not {SYSTEM_PREFIX_TOKENS}; the pipeline would drop the wrong positions"
        )
    return tokenizer


def build_tiny_pipeline_folder(out: Path) -> Path:
    """Build the tiny pipeline and save it into the (new or empty) folder `out`."""
    import diffusers
    import torch
    import transformers
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageEditPlusPipeline,
        QwenImageTransformer2DModel,
    )
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    tokenizer = build_tokenizer()
    ids = {
        name: tokenizer.convert_tokens_to_ids(tok)
        for name, tok in (
            ("image_token_id", "<|image_pad|>"),
            ("video_token_id", "<|video_pad|>"),
            ("vision_start_token_id", "<|vision_start|>"),
            ("vision_end_token_id", "<|vision_end|>"),
        )
    }
    text_config = dict(TEXT_CONFIG)
    text_config.update(
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    )

    torch.manual_seed(SEED)
    transformer = QwenImageTransformer2DModel(**TRANSFORMER_CONFIG)
    torch.manual_seed(SEED + 1)
    vae = AutoencoderKLQwenImage(**VAE_CONFIG)
    torch.manual_seed(SEED + 2)
    te_config = Qwen2_5_VLConfig(text_config=text_config, vision_config=dict(VISION_CONFIG), **ids)
    text_encoder = Qwen2_5_VLForConditionalGeneration(te_config)
    scheduler = FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG)
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=dict(IMAGE_PROCESSOR_SIZE)),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
    )
    modules: tuple[Any, ...] = (transformer, vae, text_encoder)
    for module in modules:
        module.eval()

    pipe: Any = QwenImageEditPlusPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        processor=processor,
        transformer=transformer,
    )
    out.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(out, safe_serialization=True)

    # Written last: its presence means the folder is complete.
    marker = {
        "format_version": TINY_FORMAT_VERSION,
        "what": "tiny random-weight Qwen-Image-Edit-2509 architecture (editserve)",
        "seed": SEED,
        "built_with": {
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "transformers": transformers.__version__,
        },
    }
    (out / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n")
    return out


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
    import torch
    from diffusers import QwenImagePipeline, QwenImageTransformer2DModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

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
    state = {
        key: (value * scale if ".lora_B." in key else value).contiguous()
        for key, value in get_peft_model_state_dict(transformer).items()
    }
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    if style == "diffusers":
        QwenImagePipeline.save_lora_weights(
            out_file.parent, transformer_lora_layers=state, weight_name=out_file.name
        )
    elif style == "kohya":
        converted: dict[str, Any] = {}
        for key, value in state.items():
            module = key.rsplit(".lora_", 1)[0]
            if ".lora_A." in key:
                converted[f"{module}.lora_down.weight"] = value
                converted[f"{module}.alpha"] = torch.tensor(float(rank))
            else:
                converted[f"{module}.lora_up.weight"] = value
        save_file(converted, str(out_file))
    else:
        raise ValueError(f"unknown LoRA style {style!r}")
    return out_file


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in {"-h", "--help"}:
        print("usage: python -m editserve.models.qwen_edit_plus.tiny OUT_DIR", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    folder = ensure_tiny_weights(Path(args[0]))
    print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
