"""The model side through real `editserve serve` processes on tiny weights: batching,
receipts, readiness with a broken weights folder, the options in the card and receipts,
and the `editserve smoke` command."""

from __future__ import annotations

import base64
import io
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fixtures.e2e import wait_for
from fixtures.support import TINY_CACHE, LiveServer, make_png, start_server, stop_server
from PIL import Image

pytestmark = pytest.mark.slow

MODEL = "qwen-image-edit-plus"


def _body(**extra: Any) -> dict[str, Any]:
    png = make_png(64, 48)
    return {
        "model": MODEL,
        "prompt": "make the red square blue",
        "input_image": ["data:image/png;base64," + base64.b64encode(png).decode()],
        "num_inference_steps": 2,
        **extra,
    }


def _run(client: httpx.Client, **extra: Any) -> list[dict[str, Any]]:
    response = client.post("/api/ai/queue", json=_body(**extra))
    assert response.status_code == 200, response.text
    ids = [g["generation_id"] for g in response.json()["generations"]]
    records = [wait_for(client, gen_id) for gen_id in ids]
    for record in records:
        assert record["status"] == "succeeded", record
    return records


def _pixels(client: httpx.Client, record: dict[str, Any]) -> np.ndarray:
    data = client.get(record["result_url"]).content
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int16)


# --- batching and receipts on the shared live server ----------


def test_a_batch_of_two_equals_single_runs_with_the_same_seeds(live_server: LiveServer) -> None:
    with live_server.client() as client:
        batch = _run(client, num_generations=2, seed=4242)
        assert [r["seed"] for r in batch] == [4242, 4243]
        # Both ran in one pipeline call.
        assert [r["receipt"]["batch"] for r in batch] == [
            {"size": 2, "index": 0},
            {"size": 2, "index": 1},
        ]
        singles = [_run(client, seed=seed)[0] for seed in (4242, 4243)]
        assert all(r["receipt"]["batch"]["size"] == 1 for r in singles)
        batch_pixels = [_pixels(client, r) for r in batch]
        for ours, single in zip(batch_pixels, singles, strict=True):
            assert np.abs(ours - _pixels(client, single)).max() <= 2
        assert not np.array_equal(batch_pixels[0], batch_pixels[1])


def test_every_generation_carries_a_receipt_and_stage_timings(live_server: LiveServer) -> None:
    with live_server.client() as client:
        [record] = _run(client, seed=77, aspect_ratio="16:9", true_cfg_scale=3.5)
    receipt = record["receipt"]
    weights = receipt["weights"]  # what the worker loaded, as in /readyz
    assert weights["source"] == "tiny-random" and weights["is_tiny"] is True
    assert weights["device"] == "cpu" and weights["dtype"] == "float32"
    assert len(weights["details"]["weights_hash"]["sha256"]) == 64
    assert receipt["weights_hash"] == weights["details"]["weights_hash"]["sha256"]
    assert (receipt["width"], receipt["height"]) == (record["width"], record["height"])
    assert (receipt["width"], receipt["height"]) == (96, 64)  # 16:9 at EDITSERVE_OUTPUT_AREA=64²
    assert receipt["steps"] == 2 and receipt["true_cfg_scale"] == 3.5 and receipt["cfg"] is True
    assert receipt["seed"] == record["seed"] == 77
    scheduler = receipt["scheduler"]
    assert scheduler["class"] == "FlowMatchEulerDiscreteScheduler"
    assert scheduler["shift_terminal"] == 0.02 and len(scheduler["sigmas"]) == 3
    assert receipt["options"] == {
        "memory_mode": "none",
        "lightning": "off",
        "attention_backend": "native",
        "step_cache": "off",
        "compile_repeated_blocks": False,
        "quantization": "none",
    }
    assert {"python", "torch", "diffusers", "transformers"} <= set(receipt["versions"])
    stages = {
        "queue_wait",
        "input_decode",
        "text_encode",
        "vae_encode",
        "encode",
        "denoise",
        "decode",
        "encode_store",
    }
    assert stages <= set(record["timings"]), record["timings"]
    assert all(record["timings"][name] >= 0 for name in stages)


# --- readiness with broken weights ----------


def test_a_bad_weights_folder_makes_readyz_503_with_the_reason(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-weights"
    server = start_server(
        tmp_path / "data",
        wait_ready=False,
        EDITSERVE_MODEL_WEIGHTS=str(missing),
        EDITSERVE_WORKERS="1",
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            # the reason names a folder: shown to a key
            response = httpx.get(f"{server.base_url}/readyz", headers=server.headers, timeout=5)
            model = response.json()["models"][MODEL]
            if model["readiness"] == "failed":
                break
            assert time.monotonic() < deadline, response.json()
            time.sleep(0.3)
        assert response.status_code == 503
        assert "does not exist" in model["readiness_reason"]
        assert str(missing) in model["readiness_reason"]
        assert "Traceback" not in model["readiness_reason"]
        with server.client() as client:
            card = client.get(f"/api/ai/models/{MODEL}").json()
        assert card["readiness"] == "failed" and "does not exist" in card["readiness_reason"]
    finally:
        stop_server(server.process)


# --- options in the card, the schema and the receipts ----------


@pytest.fixture(scope="module")
def lightning_server(
    tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path
) -> Iterator[LiveServer]:
    from editserve.models.qwen_image_edit.tiny.build import build_tiny_lora

    lora = build_tiny_lora(tiny_weights, tmp_path_factory.mktemp("lora") / "tiny.safetensors")
    server = start_server(
        tmp_path_factory.mktemp("lightning-server"),
        EDITSERVE_LIGHTNING="4",
        EDITSERVE_LIGHTNING_LORA=str(lora),
        EDITSERVE_STEP_CACHE="first_block",
        EDITSERVE_STEP_CACHE_THRESHOLD="0.2",
    )
    try:
        yield server
    finally:
        stop_server(server.process)


def test_lightning_preset_and_cache_are_in_the_card_schema_and_receipts(
    lightning_server: LiveServer,
) -> None:
    ready = httpx.get(f"{lightning_server.base_url}/readyz", headers=lightning_server.headers)
    ready = ready.json()
    options = ready["models"][MODEL]["weights"]["details"]["options"]
    assert options["lightning"]["preset"] == "4-step"
    assert options["lightning"]["lora"]["layers_fused"] == 24
    assert options["step_cache"] == {"mode": "first_block", "threshold": 0.2}
    with lightning_server.client() as client:
        card = client.get(f"/api/ai/models/{MODEL}").json()
        assert card["weights"]["details"]["options"] == options
        props = card["json_request_schema"]["properties"]
        assert props["num_inference_steps"]["default"] == 4
        assert props["true_cfg_scale"]["default"] == 1.0
        body = _body()
        del body["num_inference_steps"]  # the preset's defaults apply
        response = client.post("/api/ai/queue", json=body)
        assert response.status_code == 200, response.text
        record = wait_for(client, response.json()["generations"][0]["generation_id"])
    assert record["status"] == "succeeded", record
    assert record["num_inference_steps"] == 4 and record["true_cfg_scale"] == 1.0
    receipt = record["receipt"]
    assert receipt["steps"] == 4 and receipt["cfg"] is False
    assert receipt["options"] == options
    assert receipt["scheduler"]["base_shift"] == pytest.approx(math.log(3), abs=1e-5)
    assert receipt["scheduler"]["sigmas"] == [1.0, 0.9, 0.75, 0.5, 0.0]


# --- editserve smoke ----------


def test_smoke_command_prints_the_receipt_and_timings(tmp_path: Path, tiny_weights: Path) -> None:
    out = tmp_path / "smoke.png"
    env = {
        **os.environ,
        "EDITSERVE_DATA_DIR": str(tmp_path / "data"),
        "EDITSERVE_OUTPUT_AREA": str(64 * 64),
        "EDITSERVE_TORCH_THREADS": "1",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "editserve",
            "smoke",
            "--model-weights",
            str(TINY_CACHE),
            "--steps",
            "2",
            "--images",
            "2",
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["weights"]["is_tiny"] is True
    assert report["weights"]["details"]["warmup_seconds"] >= 0
    assert report["receipt"]["steps"] == 2 and report["receipt"]["num_input_images"] == 2
    assert report["receipt"]["options"]["memory_mode"] == "none"
    assert {
        "input_decode",
        "text_encode",
        "vae_encode",
        "denoise",
        "decode",
        "encode_store",
    } <= set(report["timings"])
    assert report["image"] == str(out) and Image.open(out).size == tuple(report["image_size"])


def test_smoke_runs_a_text_to_image_model_without_pictures(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "EDITSERVE_DATA_DIR": str(tmp_path / "data"),  # its twin is built there
        "EDITSERVE_OUTPUT_AREA": str(64 * 64),
        "EDITSERVE_TORCH_THREADS": "1",
        "EDITSERVE_MODELS": "qwen-image",
    }
    command = [sys.executable, "-m", "editserve", "smoke", "--model-weights", "tiny"]
    result = subprocess.run(
        [*command, "--steps", "2"], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["receipt"]["model"] == "qwen-image"
    assert report["receipt"]["num_input_images"] == 0
    assert report["image_size"] == [112, 64]  # the model's own 16:9 default at that area


def test_smoke_command_fails_clearly(tmp_path: Path) -> None:
    env = {**os.environ, "EDITSERVE_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "editserve", "smoke", "--model-weights", str(tmp_path / "nope")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "the model did not load" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
