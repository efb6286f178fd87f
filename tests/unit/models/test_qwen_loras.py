"""The `loras` request field end to end, in-process: the schema of every family member,
checks at enqueue from the safetensors header (a clear 400 naming the LoRA), the model
card's list, and a worker that applies a LoRA, records it in the receipt, fails a job whose
LoRA no longer fits (naming it) and runs the next job as if no LoRA had ever been loaded."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from safetensors.torch import load_file, save_file

from editserve.api.app import build_services, create_app
from editserve.core.settings import Settings
from editserve.models.qwen_image_edit.request.lora_check import layer_shapes
from editserve.models.qwen_image_edit.request.loras import content_hash
from editserve.models.qwen_image_edit.tiny.build import build_tiny_lora
from editserve.models.qwen_image_edit.tiny.config import TRANSFORMER_CONFIG
from editserve.services.keys import create_key
from editserve.worker.loop import Worker

MODELS = ("qwen-image-edit-plus", "qwen-image-edit-2511", "qwen-image-edit")


def _png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 40)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@dataclass
class App:
    client: TestClient
    headers: dict[str, str]
    worker: Worker
    lora_dir: Path

    def post(self, **fields: Any) -> Any:
        body = {
            "model": "qwen-image-edit-plus",
            "prompt": "make it blue",
            "input_image": [_png()],
            "num_inference_steps": 2,
            "seed": 3,
            **fields,
        }
        return self.client.post("/api/ai/queue", json=body, headers=self.headers)

    def run(self, **fields: Any) -> tuple[dict[str, Any], np.ndarray | None]:
        response = self.post(**fields)
        assert response.status_code == 200, response.text
        [queued] = response.json()["generations"]
        assert self.worker.run_once()
        url = f"/api/ai/queue/{queued['generation_id']}"
        record = self.client.get(url, headers=self.headers).json()
        if record["status"] != "succeeded":
            return record, None
        png = self.client.get(record["result_url"]).content
        return record, np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


@pytest.fixture(scope="module")
def app(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    lora_dir = tmp_path_factory.mktemp("loras")
    good = build_tiny_lora(tiny_weights_dir, lora_dir / "style.safetensors", scale=2.0)
    state = load_file(str(good))
    key = next(k for k in sorted(state) if k.endswith("lora_B.weight"))
    state[key] = torch.zeros(state[key].shape[0] + 16, state[key].shape[1])  # wrong out
    save_file(state, str(lora_dir / "wrong.safetensors"))
    (lora_dir / "notes.txt").write_text("not a LoRA")
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        model_weights=str(tiny_weights_dir),
        lora_dir=lora_dir,
        output_area=64 * 64,
        preview_area=64 * 64,
        progress_interval_seconds=0,
    )
    worker = Worker(settings, worker_id="loras", device="cpu")
    worker.load()
    services = build_services(settings)
    key_row = create_key(services.store, "loras")
    with TestClient(create_app(settings, services)) as client:
        yield App(client, {"Authorization": f"Bearer {key_row.secret}"}, worker, lora_dir)


def test_every_family_member_takes_loras() -> None:
    from editserve.models.registry import default_registry

    for model_id in MODELS:
        spec = default_registry().get(model_id)
        field = spec.request_schema()["properties"]["loras"]
        assert field["maxItems"] == 3 and field["renderType"] == "loras"
        params = spec.params_model.model_validate(
            {"prompt": "p", "input_image": "https://x.test/a.png", "loras": [{"path": "a"}]}
        )
        assert params.loras[0].scale == 1.0  # type: ignore[attr-defined]


def test_the_layer_shapes_are_the_tiny_transformers_own(tiny_weights_dir: Path) -> None:
    from diffusers import QwenImageTransformer2DModel

    model = QwenImageTransformer2DModel.from_pretrained(tiny_weights_dir, subfolder="transformer")
    linear = {
        name: (module.in_features, module.out_features)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
    }
    shapes = layer_shapes(TRANSFORMER_CONFIG)
    assert {name: linear[name] for name in shapes} == shapes


@pytest.mark.parametrize(
    ("loras", "message"),
    [
        ([{"path": "wrong"}], "loras[0].path: LoRA 'wrong' does not fit this model"),
        ([{"path": "nope"}], "loras[0].path: LoRA 'nope' cannot be used: no LoRA named 'nope'"),
        ([{"path": "style"}, {"path": "x.bin"}], "loras[1].path: must be a .safetensors file"),
        ([{"path": "https://example.com/a.safetensors"}], "LoRA URLs are not enabled"),
        ([{"path": "http://example.com/a.safetensors"}], "loras[0].path: a LoRA URL must be https"),
        ([{"path": "style", "scale": 5}], "loras[0].scale: Input should be less than or equal"),
        ([{"path": "style"}] * 4, "loras: List should have at most 3 items"),
        ([{"path": "a/b/c.safetensors"}], "is not in this server's hub cache"),
    ],
)
def test_a_lora_that_cannot_be_used_is_a_400_naming_it(
    app: App, loras: list[dict[str, Any]], message: str
) -> None:
    response = app.post(loras=loras)
    assert response.status_code == 400, response.text
    assert message in response.text


def test_the_model_card_lists_the_loras_that_fit(app: App) -> None:
    card = app.client.get("/api/ai/models/qwen-image-edit-plus", headers=app.headers).json()
    assert [lora["name"] for lora in card["loras"]] == ["style"]
    assert card["loras"][0]["path"] == "style.safetensors"


def test_a_worker_applies_a_lora_fails_one_that_no_longer_fits_and_lives_on(app: App) -> None:
    bare_record, bare = app.run()
    assert bare_record["receipt"]["loras"] == []
    record, styled = app.run(loras=[{"path": "style", "scale": 1.5}])
    assert styled is not None and not np.array_equal(bare, styled)
    sha = content_hash(app.lora_dir / "style.safetensors")
    assert record["receipt"]["loras"] == [{"path": "style", "sha256": sha, "scale": 1.5}]
    _, again = app.run()
    assert again is not None and np.array_equal(again, bare)
    # the file is replaced by one that does not fit after the request passed its checks
    response = app.post(loras=[{"path": "style"}])
    assert response.status_code == 200
    good = (app.lora_dir / "style.safetensors").read_bytes()
    wrong = (app.lora_dir / "wrong.safetensors").read_bytes()
    (app.lora_dir / "style.safetensors").write_bytes(wrong)
    try:
        assert app.worker.run_once()
        [queued] = response.json()["generations"]
        url = f"/api/ai/queue/{queued['generation_id']}"
        failed = app.client.get(url, headers=app.headers).json()
    finally:
        (app.lora_dir / "style.safetensors").write_bytes(good)
    assert failed["status"] == "failed"
    assert failed["error_message"].startswith("LoRA 'style' does not fit this model: ")
    _, after = app.run()
    assert after is not None and np.array_equal(after, bare)


def test_a_hub_file_is_found_in_the_local_hub_cache_only(
    tiny_weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    from editserve.core.errors import InvalidParams
    from editserve.models.qwen_image_edit.request.loras import LoraRef, check_loras, locate

    cache = tmp_path / "hub"
    repo = cache / "models--owner--loras"
    commit = "0123456789abcdef0123456789abcdef01234567"
    build_tiny_lora(tiny_weights_dir, repo / "snapshots" / commit / "styles" / "a.safetensors")
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    settings = Settings(data_dir=tmp_path, model_weights="tiny")
    where = locate("owner/loras/styles/a.safetensors", settings)
    assert where.kind == "hub" and where.file is not None and commit in str(where.file)
    assert locate(f"owner/loras@{commit}/styles/a.safetensors", settings).file == where.file
    check_loras([LoraRef(path="owner/loras/styles/a.safetensors")], settings, {})
    for path in ("owner/loras/styles/b.safetensors", "owner/loras/../loras/styles/a.safetensors"):
        with pytest.raises(InvalidParams, match=r"loras\[0\]\.path: LoRA .* cannot be used"):
            check_loras([LoraRef(path=path)], settings, {})
