"""The tiny random-weight model: same architecture, stock loading, 64-token prefix, safe
and deterministic building."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from editserve.models.qwen_image_edit.members import EDIT_2509
from editserve.models.qwen_image_edit.tiny.__main__ import main as tiny_main
from editserve.models.qwen_image_edit.tiny.build import (
    MARKER_FILE,
    SYSTEM_PREFIX,
    SYSTEM_PREFIX_TOKENS,
    ensure_tiny_weights,
    is_complete,
)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_folder_is_complete_and_idempotent(tiny_weights_dir: Path) -> None:
    assert is_complete(tiny_weights_dir, variant=EDIT_2509)
    index = json.loads((tiny_weights_dir / "model_index.json").read_text())
    assert index["_class_name"] == "QwenImageEditPlusPipeline"
    marker = tiny_weights_dir / MARKER_FILE
    before = marker.stat().st_mtime_ns
    assert ensure_tiny_weights(tiny_weights_dir, variant=EDIT_2509) == tiny_weights_dir
    assert marker.stat().st_mtime_ns == before  # not rebuilt


@pytest.mark.slow
def test_stock_from_pretrained_loads_it(tiny_weights_dir: Path) -> None:
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageEditPlusPipeline,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2Tokenizer, Qwen2VLProcessor

    pipe: Any = QwenImageEditPlusPipeline.from_pretrained(tiny_weights_dir)  # no overrides
    expected = {
        "transformer": QwenImageTransformer2DModel,
        "vae": AutoencoderKLQwenImage,
        "text_encoder": Qwen2_5_VLForConditionalGeneration,
        "tokenizer": Qwen2Tokenizer,
        "processor": Qwen2VLProcessor,
        "scheduler": FlowMatchEulerDiscreteScheduler,
    }
    for name, cls in expected.items():
        assert isinstance(getattr(pipe, name), cls), name
    assert pipe.processor.video_processor is not None

    # The architecture's constraints between components.
    t, v, te = pipe.transformer.config, pipe.vae.config, pipe.text_encoder.config
    assert t.in_channels == 4 * v.z_dim
    assert t.joint_attention_dim == te.text_config.hidden_size
    assert sum(t.axes_dims_rope) == t.attention_head_dim
    assert te.vision_config.out_hidden_size == te.text_config.hidden_size
    assert pipe.vae_scale_factor == 8
    assert pipe.scheduler.config.shift_terminal == 0.02

    # Token ids the text encoder looks for are the tokenizer's.
    tok = pipe.tokenizer
    assert te.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
    assert te.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
    assert te.vision_start_token_id == tok.convert_tokens_to_ids("<|vision_start|>")
    assert te.vision_end_token_id == tok.convert_tokens_to_ids("<|vision_end|>")
    assert max(tok.get_vocab().values()) < te.text_config.vocab_size
    assert pipe.processor.image_token_id == te.image_token_id

    # The pipeline drops exactly our 64-token system prefix.
    assert pipe.prompt_template_encode.split("{}")[0] == SYSTEM_PREFIX
    assert pipe.prompt_template_encode_start_idx == SYSTEM_PREFIX_TOKENS


def test_system_prefix_encodes_to_64_tokens(tiny_weights_dir: Path) -> None:
    from transformers import AutoTokenizer

    for sub in ("tokenizer", "processor"):
        tok = AutoTokenizer.from_pretrained(tiny_weights_dir / sub)
        ids = tok(SYSTEM_PREFIX)["input_ids"]
        assert len(ids) == SYSTEM_PREFIX_TOKENS == 64
        assert tok.convert_ids_to_tokens(ids[:1]) == ["<|im_start|>"]
        # Whatever the user writes starts right after the prefix: nothing merges across it.
        full = tok(SYSTEM_PREFIX + "Picture 1: <|vision_start|><|image_pad|><|vision_end|>x")
        assert full["input_ids"][:64] == ids
        # Byte-level: any text (Chinese, emoji) round-trips.
        text = "把背景换成海边 🌅 make it blue"
        assert tok.decode(tok(text)["input_ids"]) == text


@pytest.mark.slow
def test_build_is_deterministic(tiny_weights_dir: Path, tmp_path: Path) -> None:
    fresh = ensure_tiny_weights(tmp_path / "again", variant=EDIT_2509)
    assert _files(fresh) == _files(tiny_weights_dir)


@pytest.mark.slow
def test_concurrent_builders_over_a_stale_folder(tmp_path: Path) -> None:
    target = tmp_path / "models" / "tiny"
    target.mkdir(parents=True)
    (target / "model_index.json").write_text("{}")  # leftover junk, no marker
    results: list[Path] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            results.append(ensure_tiny_weights(target, variant=EDIT_2509))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == [target, target]
    assert is_complete(target, variant=EDIT_2509)
    assert sorted(p.name for p in target.parent.iterdir()) == ["tiny"]  # no temp leftovers


def test_cli_entry_point_reuses_a_complete_folder(
    tiny_weights_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tiny_main([str(tiny_weights_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(tiny_weights_dir)
    assert tiny_main([]) == 2
