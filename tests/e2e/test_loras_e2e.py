"""Per-request LoRAs through a real `editserve serve` on tiny weights, as issue 9 checks
them: a LoRA made for the tiny model changes the output and the next job without it is
unchanged; one of the wrong shape is a clear 400 at enqueue and the worker goes on; a
batch of two shares the LoRA. (A file that stops fitting after enqueue fails its
generation naming it: tests/unit/models/test_qwen_loras.py, deterministic there.)"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch
from fixtures.e2e import wait_for
from fixtures.support import TINY_CACHE, LiveServer, make_png, start_server, stop_server
from PIL import Image
from safetensors.torch import load_file, save_file

from editserve.models.qwen_image_edit.tiny.build import build_tiny_lora

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("loras")
    good = build_tiny_lora(TINY_CACHE, folder / "style.safetensors", scale=2.0)
    state = load_file(str(good))
    key = next(k for k in sorted(state) if k.endswith("lora_A.weight"))
    state[key] = torch.zeros(state[key].shape[0], state[key].shape[1] * 2)
    save_file(state, str(folder / "wrong.safetensors"))
    live = start_server(tmp_path_factory.mktemp("lora-e2e"), EDITSERVE_LORA_DIR=str(folder))
    try:
        yield live
    finally:
        stop_server(live.process)


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as http:
        yield http


def _post(client: httpx.Client, **extra: Any) -> httpx.Response:
    png = make_png(64, 48)
    body = {
        "model": "qwen-image-edit-plus",
        "prompt": "make the red square blue",
        "input_image": ["data:image/png;base64," + base64.b64encode(png).decode()],
        "num_inference_steps": 2,
        "seed": 5,
        **extra,
    }
    return client.post("/api/ai/queue", json=body)


def _run(client: httpx.Client, **extra: Any) -> list[tuple[dict[str, Any], np.ndarray | None]]:
    response = _post(client, **extra)
    assert response.status_code == 200, response.text
    out = []
    for item in response.json()["generations"]:
        record = wait_for(client, item["generation_id"])
        pixels = None
        if record["status"] == "succeeded":
            data = client.get(record["result_url"]).content
            pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int16)
        out.append((record, pixels))
    return out


def test_a_lora_changes_the_output_and_the_next_job_is_unchanged(client: httpx.Client) -> None:
    [(_, bare)] = _run(client)
    runs = _run(client, loras=[{"path": "style", "scale": 1.0}], num_generations=2)
    for record, _pixels in runs:
        assert record["status"] == "succeeded", record
        assert record["receipt"]["loras"][0]["path"] == "style"
        assert record["receipt"]["batch"]["size"] == 2  # the request's two outputs, one call
    assert runs[0][1] is not None and not np.array_equal(runs[0][1], bare)
    [(record, after)] = _run(client)
    assert record["receipt"]["loras"] == [] and np.array_equal(after, bare)


def test_a_lora_of_the_wrong_shape_is_a_400_and_the_worker_lives(client: httpx.Client) -> None:
    response = _post(client, loras=[{"path": "wrong"}])
    assert response.status_code == 400
    detail = response.json()["error"]["detail"]
    assert detail.startswith("loras[0].path: LoRA 'wrong' does not fit this model: ")
    [(record, pixels)] = _run(client, loras=[{"path": "style", "scale": 0.5}])
    assert record["status"] == "succeeded" and pixels is not None
