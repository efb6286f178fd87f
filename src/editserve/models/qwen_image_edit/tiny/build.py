"""Tiny random-weight models with the exact architecture of each Qwen-Image family member
(the edit models and, through models/qwen_image/, the text-to-image ones).

Real weights (~58 GB) cannot be downloaded on build machines, so editserve builds these
models offline and loads them through the very same ``<pipeline class>.from_pretrained``
path as the real folders. Everything but picture quality is then real: tokenising, the VL
text encoder with image tokens, both CFG passes, the VAE and the output sizes. Every member
gets the same tokenizer, text encoder, VAE and scheduler (same seeds: byte-identical files),
as the real repos share those architectures; the transformer takes the member's config
differences and the folder its pipeline class (a text-to-image pipeline has no processor).

The build is deterministic (fixed seeds, deterministic BPE training), idempotent, and safe
when several processes start at once: each builds in a private temporary folder next to
the target and renames it into place atomically; the first rename wins.

Run ``python -m editserve.models.qwen_image_edit.tiny OUT_DIR [MODEL]`` to build one by hand.

The configurations live in tiny_config.py, the stand-in LoRA in tiny_lora.py (both
re-exported here). torch/diffusers/transformers are imported inside the functions so that
importing this module stays cheap (the API process must not import torch).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from editserve.models.qwen_image_edit.members import EDIT_2509
from editserve.models.qwen_image_edit.tiny.config import (
    BPE_TRAIN_VOCAB,
    IMAGE_PROCESSOR_SIZE,
    PREFIX_WEIGHT,
    PROMPT_TEMPLATE,
    SCHEDULER_CONFIG,
    SEED,
    SPECIAL_TOKENS,
    SYSTEM_PREFIX,
    SYSTEM_PREFIX_TOKENS,
    TEXT_CONFIG,
    TEXT_TO_IMAGE_PREFIX,
    TEXT_TO_IMAGE_PREFIX_TOKENS,
    TEXT_VOCAB_SIZE,
    TOKENIZER_CORPUS,
    TRANSFORMER_CONFIG,
    VAE_CONFIG,
    VISION_CONFIG,
)
from editserve.models.qwen_image_edit.tiny.lora import LORA_SEED, LORA_TARGETS, build_tiny_lora
from editserve.models.qwen_image_edit.variant import COMPONENTS, QwenVariant

__all__ = [
    "BPE_TRAIN_VOCAB",
    "COMPONENTS",
    "IMAGE_PROCESSOR_SIZE",
    "LORA_SEED",
    "LORA_TARGETS",
    "MARKER_FILE",
    "PREFIX_WEIGHT",
    "PROMPT_TEMPLATE",
    "SCHEDULER_CONFIG",
    "SEED",
    "SPECIAL_TOKENS",
    "SYSTEM_PREFIX",
    "SYSTEM_PREFIX_TOKENS",
    "TEXT_CONFIG",
    "TEXT_TO_IMAGE_PREFIX",
    "TEXT_TO_IMAGE_PREFIX_TOKENS",
    "TEXT_VOCAB_SIZE",
    "TINY_FORMAT_VERSION",
    "TOKENIZER_CORPUS",
    "TRANSFORMER_CONFIG",
    "VAE_CONFIG",
    "VISION_CONFIG",
    "build_tiny_lora",
    "build_tiny_pipeline_folder",
    "build_tokenizer",
    "ensure_tiny_weights",
    "is_complete",
]

logger = logging.getLogger("editserve.model")

# Bump when the builder changes what it writes: an older folder is then rebuilt.
# 2: the marker names the model (the family shares the builder); 3: the tokenizer also
# encodes the text-to-image system prefix to its 34 tokens (one tokenizer for every member)
TINY_FORMAT_VERSION = 3
MARKER_FILE = "editserve-tiny.json"


# --- the folder ----------------------------------------------------------------------------------


def is_complete(folder: Path, variant: QwenVariant) -> bool:
    """True if `folder` holds a finished tiny `variant` written by this builder version."""
    marker = folder / MARKER_FILE
    try:
        info = json.loads(marker.read_text())
        index = json.loads((folder / "model_index.json").read_text())
    except (OSError, ValueError):
        return False
    if info.get("format_version") != TINY_FORMAT_VERSION:
        return False
    if index.get("_class_name") != variant.pipeline_class:
        return False
    # Folders written before the marker named the model hold Qwen-Image-Edit-2509.
    if info.get("model", EDIT_2509.model_id) != variant.model_id:
        return False
    return all((folder / name).is_dir() for name in variant.components)


def ensure_tiny_weights(folder: Path, variant: QwenVariant) -> Path:
    """Return `folder` holding the tiny `variant`, building it first if needed.

    Safe to call from several processes at once: each builds privately and the first
    atomic rename wins; the others discard their copy.
    """
    folder = Path(folder).expanduser().absolute()
    if is_complete(folder, variant):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        logger.info("building the tiny random-weight model in %s", folder)
        build_tiny_pipeline_folder(tmp, variant)
        _move_into_place(tmp, folder, variant)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if not is_complete(folder, variant):
        raise RuntimeError(f"tiny model folder {folder} is incomplete after building it")
    return folder


def _move_into_place(tmp: Path, folder: Path, variant: QwenVariant) -> None:
    try:
        os.rename(tmp, folder)
        return
    except OSError:
        if is_complete(folder, variant):  # another process won the race
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
        if not is_complete(folder, variant):
            raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)


# --- the tokenizer -------------------------------------------------------------------------------


def build_tokenizer() -> Any:
    """A byte-level BPE Qwen2Tokenizer whose system prefixes encode to exactly the tokens
    the pipelines drop: 64 (edit) and 34 (text-to-image)."""
    from transformers import Qwen2Tokenizer

    vocab, merges = _train_byte_level_bpe()
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
    _check_tokenizer(tokenizer, n_learned)
    return tokenizer


def _train_byte_level_bpe() -> tuple[dict[str, int], Any]:
    """(vocab, merges) learned from TOKENIZER_CORPUS the way Qwen2Tokenizer splits text."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.trainers import BpeTrainer
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
    return vocab, merges


def _check_tokenizer(tokenizer: Any, n_learned: int) -> None:
    for offset, token in enumerate(SPECIAL_TOKENS):
        got = tokenizer.convert_tokens_to_ids(token)
        if got != n_learned + offset:
            raise RuntimeError(f"special token {token} got id {got}, not {n_learned + offset}")

    for prefix, expected in (
        (SYSTEM_PREFIX, SYSTEM_PREFIX_TOKENS),
        (TEXT_TO_IMAGE_PREFIX, TEXT_TO_IMAGE_PREFIX_TOKENS),
    ):
        n_prefix = len(tokenizer(prefix)["input_ids"])
        if n_prefix != expected:
            raise RuntimeError(
                f"tiny tokenizer encodes a system prefix to {n_prefix} tokens, "
                f"not {expected}; the pipeline would drop the wrong positions"
            )


# --- the pipeline --------------------------------------------------------------------------------


def build_tiny_pipeline_folder(out: Path, variant: QwenVariant) -> Path:
    """Build the tiny `variant` and save it into the (new or empty) folder `out`.

    Every member of the family shares the tiny components; the transformer and the VAE
    take the variant's config differences (``transformer_overrides``, ``vae_overrides``:
    the layered model's RGBA VAE), the folder its pipeline class
    and the components that class has (``variant.components``: no processor for a
    text-to-image pipeline).
    """
    import diffusers

    tokenizer = build_tokenizer()
    components = {
        name: component
        for name, component in _random_components(tokenizer, variant).items()
        if name in variant.components
    }
    pipeline_type: Any = getattr(diffusers, variant.pipeline_class)
    pipe: Any = pipeline_type(tokenizer=tokenizer, **components)
    out.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(out, safe_serialization=True)
    # Written last: its presence means the folder is complete.
    _write_marker(out, variant)
    return out


def _random_components(tokenizer: Any, variant: QwenVariant) -> dict[str, Any]:
    """Every component but the tokenizer, with seeded random weights."""
    import torch
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageTransformer2DModel,
    )
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    torch.manual_seed(SEED)
    transformer = QwenImageTransformer2DModel(
        **{**TRANSFORMER_CONFIG, **variant.transformer_overrides}
    )
    torch.manual_seed(SEED + 1)
    vae = AutoencoderKLQwenImage(**{**VAE_CONFIG, **variant.vae_overrides})
    torch.manual_seed(SEED + 2)
    te_config = Qwen2_5_VLConfig(
        text_config=_text_config(tokenizer),
        vision_config=dict(VISION_CONFIG),
        **_vision_token_ids(tokenizer),
    )
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
    return {
        "scheduler": scheduler,
        "vae": vae,
        "text_encoder": text_encoder,
        "processor": processor,
        "transformer": transformer,
    }


def _vision_token_ids(tokenizer: Any) -> dict[str, Any]:
    """The text encoder's image/video token ids: the tokenizer's."""
    return {
        name: tokenizer.convert_tokens_to_ids(tok)
        for name, tok in (
            ("image_token_id", "<|image_pad|>"),
            ("video_token_id", "<|video_pad|>"),
            ("vision_start_token_id", "<|vision_start|>"),
            ("vision_end_token_id", "<|vision_end|>"),
        )
    }


def _text_config(tokenizer: Any) -> dict[str, Any]:
    text_config = dict(TEXT_CONFIG)
    text_config.update(
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    )
    return text_config


def _write_marker(out: Path, variant: QwenVariant) -> None:
    import diffusers
    import torch
    import transformers

    marker = {
        "format_version": TINY_FORMAT_VERSION,
        "what": f"tiny random-weight {variant.display} architecture (editserve)",
        "model": variant.model_id,
        "seed": SEED,
        "built_with": {
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "transformers": transformers.__version__,
        },
    }
    (out / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n")
