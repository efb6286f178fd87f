"""A worker swapping between family members keeps the components whose files are the same
(the text encoder, VAE, tokenizer and processor of the tiny twins are byte-identical, as
the real ones' are where the hub's hashes say so) and reads only the rest: the next
pipeline holds the very same modules, its outputs equal a fresh load's, and nothing is
kept where the files, the dtype or the memory mode differ."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fixtures.qwen import ignore_steps, pixels

from editserve.core.settings import Settings
from editserve.models.base import EditJob
from editserve.models.qwen_image.members import QWEN_IMAGE
from editserve.models.qwen_image_edit.members import EDIT_2509
from editserve.models.qwen_image_edit.runtime.shared import KEPT, component_digest
from editserve.models.qwen_image_edit.tiny.build import ensure_tiny_weights
from editserve.models.qwen_image_edit.variant import QwenVariant
from editserve.models.registry import default_registry

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[3]


def twin(variant: QwenVariant) -> Path:
    return ensure_tiny_weights(REPO_ROOT / ".cache" / variant.tiny_folder_name, variant)


def adapter(model_id: str, folder: Path, data_dir: Path, **settings: Any) -> Any:
    spec = default_registry().get(model_id)
    made = spec.adapter_class()(
        Settings(data_dir=data_dir, model_weights=str(folder), **settings),
        device="cpu",
        warmup=False,
    )
    made.load()
    return made


def generate_job(seed: int = 3) -> EditJob:
    return EditJob(prompt="a fox", images=[], width=64, height=64, seed=seed, num_inference_steps=2)


@pytest.fixture(autouse=True)
def nothing_kept() -> None:
    KEPT.take(None, "", "", "none")  # whatever an earlier test left


def test_a_swap_keeps_the_shared_modules_and_reads_only_the_transformer(tmp_path: Path) -> None:
    edit = adapter("qwen-image-edit-plus", twin(EDIT_2509), tmp_path)
    before = {name: getattr(edit.pipeline, name) for name in ("text_encoder", "vae", "transformer")}
    edit.unload()
    assert KEPT.names == ["processor", "text_encoder", "tokenizer", "vae"]

    generate = adapter("qwen-image", twin(QWEN_IMAGE), tmp_path)
    assert generate.pipeline.text_encoder is before["text_encoder"]
    assert generate.pipeline.vae is before["vae"]
    assert generate.pipeline.transformer is not before["transformer"]
    kept = generate.loaded.details["kept_from_previous_model"]
    assert kept["components"] == ["text_encoder", "tokenizer", "vae"]  # no processor here
    assert kept["bytes_not_read"] > 0
    assert KEPT.names == []  # taken: nothing else is held

    fresh = adapter("qwen-image", twin(QWEN_IMAGE), tmp_path)  # nothing kept: all read
    assert "kept_from_previous_model" not in fresh.loaded.details
    job = generate_job()
    assert (
        pixels(generate.generate(job, ignore_steps).image)
        == pixels(fresh.generate(job, ignore_steps).image)
    ).all()


def test_different_files_are_never_shared(tmp_path: Path) -> None:
    changed = tmp_path / "changed"
    shutil.copytree(twin(QWEN_IMAGE), changed)
    weights = next((changed / "vae").glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one VAE weight
    weights.write_bytes(bytes(data))

    edit = adapter("qwen-image-edit-plus", twin(EDIT_2509), tmp_path)
    old_vae, old_text = edit.pipeline.vae, edit.pipeline.text_encoder
    edit.unload()
    generate = adapter("qwen-image", changed, tmp_path)
    assert generate.pipeline.vae is not old_vae
    assert generate.pipeline.text_encoder is old_text
    assert generate.loaded.details["kept_from_previous_model"]["components"] == [
        "text_encoder",
        "tokenizer",
    ]


def test_nothing_is_shared_across_dtypes(tmp_path: Path) -> None:
    edit = adapter("qwen-image-edit-plus", twin(EDIT_2509), tmp_path, dtype="fp32")
    old_text = edit.pipeline.text_encoder
    edit.unload()
    generate = adapter("qwen-image", twin(QWEN_IMAGE), tmp_path, dtype="bf16")
    assert generate.pipeline.text_encoder is not old_text
    assert "kept_from_previous_model" not in generate.loaded.details


def test_nothing_is_kept_or_taken_with_an_offload_mode() -> None:
    """Offload hooks belong to one pipeline (a GPU-only mode: checked without loading)."""
    folder = twin(QWEN_IMAGE)
    pipe = SimpleNamespace(text_encoder=object(), vae=object(), tokenizer=object())
    KEPT.keep(pipe, folder, "bfloat16", "cuda:0", "model_offload")
    assert KEPT.names == []
    KEPT.keep(pipe, folder, "bfloat16", "cuda:0", "none")
    assert KEPT.names == ["text_encoder", "tokenizer", "vae"]
    assert KEPT.take(folder, "bfloat16", "cuda:0", "group_offload").components == {}
    assert KEPT.names == []  # dropped, not held beside the new model
    KEPT.keep(pipe, folder, "bfloat16", "cuda:0", "none")
    assert KEPT.take(folder, "bfloat16", "cuda:1", "none").components == {}  # other device
    KEPT.keep(pipe, folder, "bfloat16", "cuda:0", "none")
    taken = KEPT.take(folder, "bfloat16", "cuda:0", "none").components
    assert taken == {
        "text_encoder": pipe.text_encoder,
        "vae": pipe.vae,
        "tokenizer": pipe.tokenizer,
    }


def test_hub_cache_files_are_the_same_when_they_link_to_the_same_blob(tmp_path: Path) -> None:
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    for name in ("aa11", "bb22"):
        (blobs / name).write_bytes(b"weights " + name.encode())

    def snapshot(name: str, blob: str) -> Path:
        folder = tmp_path / "snapshots" / name / "text_encoder"
        folder.mkdir(parents=True)
        (folder / "model.safetensors").symlink_to(blobs / blob)
        return folder

    one, same, other = snapshot("one", "aa11"), snapshot("two", "aa11"), snapshot("3", "bb22")
    assert component_digest(one) == component_digest(same) != component_digest(other)
    assert component_digest(tmp_path / "absent") is None
