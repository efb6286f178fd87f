"""Parity: an editserve generation gives the pixels of a direct diffusers call.

The editserve side is the whole product path, in-process: POST /api/ai/queue on the real
app (validation, input decoding and storage, sizing), a real Worker (claim, input decode,
the adapter on the tiny weights, PNG encode, storage), then the stored output fetched
through its signed URL. The other side is a fresh ``QwenImageEditPlusPipeline
.from_pretrained`` of the same folder, called with the same images, prompt, negative
prompt, CFG scale, steps, size and seed. They must agree pixel for pixel.

At the native ~1 MP area the direct call is the pipeline's own defaults (no height/width:
it sizes the output from the last image; VAE copies at its built-in 1024² area). At the
small test area the direct call gets the size from diffusers' own ``calculate_dimensions``
and the pipeline's VAE area is set to the same area (editserve sizes the VAE copies at the
output area, as its docs say).
"""

from __future__ import annotations

import base64
import importlib
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

from editserve.api.app import build_services, create_app
from editserve.core.settings import NATIVE_AREA, Settings
from editserve.models.qwen_image_edit.members import EDIT_2509
from editserve.models.qwen_image_edit.request.sizing import ASPECT_RATIOS
from editserve.services.keys import create_key
from editserve.worker.loop import Worker

PIPELINE_MODULE = EDIT_2509.pipeline_module

pytestmark = pytest.mark.slow

SMALL_AREA = 128 * 128
STEPS = 2
PROMPT = "Put the person from Picture 1 next to the product in Picture 2"


def _png(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", size, color)
    for x in range(size[0]):  # some structure, different per image
        image.putpixel((x, (x * 3) % size[1]), (255 - color[0], 20, 200))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


INPUTS = [
    _png((64, 48), (200, 30, 40)),
    _png((48, 64), (30, 160, 90)),
    _png((80, 40), (40, 60, 220)),
]


@dataclass
class Server:
    client: TestClient
    headers: dict[str, str]
    worker: Worker

    def generate(self, body: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray]:
        response = self.client.post("/api/ai/queue", json=body, headers=self.headers)
        assert response.status_code == 200, response.text
        [queued] = response.json()["generations"]
        assert self.worker.run_once()
        gen = self.client.get(f"/api/ai/queue/{queued['generation_id']}", headers=self.headers)
        record = gen.json()
        assert record["status"] == "succeeded", record
        png = self.client.get(record["result_url"])
        assert png.status_code == 200
        return record, _pixels(Image.open(io.BytesIO(png.content)))


@pytest.fixture(scope="module")
def servers(
    tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[int, Server]]:
    data_dir = tmp_path_factory.mktemp("parity")
    common: dict[str, Any] = {"data_dir": data_dir, "model_weights": str(tiny_weights_dir)}
    worker_settings = Settings(**common, torch_threads=2, progress_interval_seconds=0)
    worker = Worker(worker_settings, worker_id="parity", device="cpu")
    worker.load()  # the adapter a worker builds, with its warm-up run
    result = {}
    clients = []
    for area in (SMALL_AREA, NATIVE_AREA):
        settings = Settings(**common, output_area=area)
        services = build_services(settings)
        key = create_key(services.store, f"parity-{area}")
        client = TestClient(create_app(settings, services))
        clients.append(client)
        result[area] = Server(client, {"Authorization": f"Bearer {key.secret}"}, worker)
    yield result
    for client in clients:
        client.close()


@pytest.fixture(scope="module")
def pipe(tiny_weights_dir: Path) -> Any:
    from diffusers import QwenImageEditPlusPipeline

    pipe: Any = QwenImageEditPlusPipeline.from_pretrained(tiny_weights_dir, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB")).astype(np.int16)


def _body(count: int, aspect_ratio: str | None, seed: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "qwen-image-edit-plus",
        "prompt": PROMPT,
        "input_image": [
            "data:image/png;base64," + base64.b64encode(data).decode() for data in INPUTS[:count]
        ],
        "negative_prompt": " ",
        "true_cfg_scale": 4.0,
        "num_inference_steps": STEPS,
        "seed": seed,
        "output_format": "png",
    }
    if aspect_ratio is not None:
        body["aspect_ratio"] = aspect_ratio
    return body


def _direct(
    pipe: Any, count: int, seed: int, size: tuple[int, int] | None, vae_area: int | None
) -> np.ndarray:
    module: Any = importlib.import_module(PIPELINE_MODULE)
    images = [Image.open(io.BytesIO(data)).convert("RGB") for data in INPUTS[:count]]
    kwargs: dict[str, Any] = {}
    if size is not None:
        kwargs["width"], kwargs["height"] = size
    original = module.VAE_IMAGE_SIZE
    if vae_area is not None:
        module.VAE_IMAGE_SIZE = vae_area
    try:
        output = pipe(
            image=images,
            prompt=PROMPT,
            negative_prompt=" ",
            true_cfg_scale=4.0,
            num_inference_steps=STEPS,
            generator=torch.Generator(device="cpu").manual_seed(seed),
            **kwargs,
        )
    finally:
        module.VAE_IMAGE_SIZE = original
    return _pixels(output.images[0])


@pytest.mark.parametrize("aspect_ratio", [None, "16:9", "auto"])
@pytest.mark.parametrize("count", [1, 2, 3])
def test_editserve_generation_equals_a_direct_pipeline_call(
    servers: dict[int, Server], pipe: Any, count: int, aspect_ratio: str | None
) -> None:
    from diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus import calculate_dimensions

    seed = 1000 + count
    record, ours = servers[SMALL_AREA].generate(_body(count, aspect_ratio, seed))
    if aspect_ratio == "auto":
        last = Image.open(io.BytesIO(INPUTS[count - 1]))
        ratio = last.width / last.height
    else:
        ratio = ASPECT_RATIOS[aspect_ratio or "1:1"]  # the schema's default is 1:1
    size = calculate_dimensions(SMALL_AREA, ratio)
    assert (record["width"], record["height"]) == size
    assert record["seed"] == seed and record["receipt"]["cfg"] is True
    theirs = _direct(pipe, count, seed, size, vae_area=SMALL_AREA)
    assert ours.shape == theirs.shape
    assert np.array_equal(ours, theirs)


def test_at_the_native_area_auto_is_the_pipelines_own_default(
    servers: dict[int, Server], pipe: Any
) -> None:
    record, ours = servers[NATIVE_AREA].generate(_body(1, "auto", 7))
    theirs = _direct(pipe, 1, 7, size=None, vae_area=None)  # no size: the pipeline decides
    assert ours.shape == theirs.shape == (896, 1184, 3)  # 64x48 (4:3) -> ~1 MP at 4:3
    assert (record["width"], record["height"]) == (1184, 896)
    assert np.array_equal(ours, theirs)
