"""A text-to-image model through a real `editserve serve` process on its tiny twin: a prompt
alone, queued through POST /api/ai/queue, comes back as a picture of the planned size with
its receipt; a server serving an edit model and a text-to-image model runs both kinds."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fixtures.e2e import wait_for
from fixtures.support import LiveServer, make_png, start_server, stop_server
from PIL import Image

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Any) -> Iterator[LiveServer]:
    """Both kinds served; the worker swaps models at once when the other kind waits."""
    live = start_server(
        tmp_path_factory.mktemp("generate-server"),
        EDITSERVE_MODELS="qwen-image,qwen-image-edit-plus",
        EDITSERVE_MODEL_SWAP_AFTER_SECONDS="0",
        EDITSERVE_EXACT_SIZE_MIN_SIDE="64",  # OpenAI's exact sizes, kept tiny
    )
    try:
        yield live
    finally:
        stop_server(live.process)


def _succeeded(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/ai/queue", json=body)
    assert response.status_code == 200, response.text
    [queued] = response.json()["generations"]
    record = wait_for(client, queued["generation_id"])
    assert record["status"] == "succeeded", record
    return record


def test_a_prompt_alone_makes_a_picture(server: LiveServer) -> None:
    with server.client() as client:
        record = _succeeded(
            client,
            {"model": "qwen-image", "prompt": "a red fox", "num_inference_steps": 2, "seed": 3},
        )
        # 16:9 at the server's 64x64 output area; the hosted default format, webp
        assert (record["width"], record["height"]) == (112, 64)
        assert record["input_urls"] == []
        picture = Image.open(io.BytesIO(client.get(record["result_url"]).content))
        assert (picture.format, picture.size) == ("WEBP", (112, 64))
        receipt = record["receipt"]
        assert receipt["model"] == "qwen-image" and receipt["seed"] == 3
        assert receipt["num_input_images"] == 0 and receipt["is_tiny"] is True
        assert receipt["weights"]["details"]["pipeline"] == "QwenImagePipeline"


def test_the_same_server_edits_too(server: LiveServer) -> None:
    png = "data:image/png;base64," + base64.b64encode(make_png(64, 48)).decode()
    with server.client() as client:
        edit = _succeeded(
            client,
            {
                "model": "qwen-image-edit-plus",
                "prompt": "make it blue",
                "input_image": [png],
                "num_inference_steps": 2,
            },
        )
        assert edit["receipt"]["num_input_images"] == 1
        again = _succeeded(
            client,
            {"model": "qwen-image", "prompt": "a red fox", "num_inference_steps": 2, "seed": 3},
        )
        assert again["receipt"]["model"] == "qwen-image"
        # each swap kept the text encoder and the VAE (the same files) and read the rest
        kept = again["receipt"]["weights"]["details"]["kept_from_previous_model"]
        assert kept["components"] == ["text_encoder", "tokenizer", "vae"]
        models = client.get("/api/ai/models").json()["data"]
        kinds = {card["id"]: card["endpoint"] for card in models}
        assert kinds == {"qwen-image": "/images/generate", "qwen-image-edit-plus": "/images/edit"}


def test_the_hosted_generate_call_and_the_openai_sdk(server: LiveServer) -> None:
    """The hosted API's documented generate call, host and key changed; then OpenAI's SDK
    by base URL alone."""
    with server.client() as client:
        body = {"model": "qwen-image", "prompt": "A majestic ox", "num_inference_steps": 2}
        answer = client.post("/api/ai/images/generate", json=body, timeout=300)
        assert answer.status_code == 200, answer.text
        got = answer.json()
        assert got["model"] == "qwen-image" and got["image_url"] == got["images"][0]["url"]
        assert client.get(got["image_url"]).status_code == 200
        refused = client.post("/api/ai/images/generate", json={**body, "prompt": " "})
        assert refused.json()["error"]["detail"] == "prompt: Prompt cannot be empty"
    from openai import OpenAI

    sdk = OpenAI(base_url=server.base_url + "/v1", api_key=server.api_key)
    result = sdk.images.generate(
        model="qwen-image",
        prompt="A red fox",
        size="128x64",
        n=2,
        extra_body={"num_inference_steps": 2},
    )
    pictures = [Image.open(io.BytesIO(base64.b64decode(d.b64_json or ""))) for d in result.data]
    assert [p.size for p in pictures] == [(128, 64), (128, 64)]
    assert result.size == "128x64"


def test_a_mixed_stream_finishes_and_every_swap_reuses_the_shared_components(
    server: LiveServer,
) -> None:
    """40 jobs alternating between the two kinds, enqueued at once: every one finishes, and
    every job that paid for a swap found the text encoder and VAE kept from the other."""
    png = "data:image/png;base64," + base64.b64encode(make_png(48, 48)).decode()
    bodies: list[dict[str, Any]] = [
        {"model": "qwen-image", "prompt": f"fox {n}", "num_inference_steps": 1}
        if n % 2
        else {"model": "qwen-image-edit-plus", "prompt": f"hat {n}", "input_image": [png],
              "num_inference_steps": 1}
        for n in range(40)
    ]  # fmt: skip
    with server.client() as client:
        ids = []
        for body in bodies:
            response = client.post("/api/ai/queue", json=body)
            assert response.status_code == 200, response.text
            ids += [g["generation_id"] for g in response.json()["generations"]]
        records = [wait_for(client, gen_id, timeout=600) for gen_id in ids]
    assert [r["status"] for r in records] == ["succeeded"] * 40
    swapped = [r["receipt"] for r in records if r["receipt"]["weights"].get("swapped_in")]
    assert swapped, "the stream made the worker swap"
    for receipt in swapped:
        kept = receipt["weights"]["details"]["kept_from_previous_model"]["components"]
        assert {"text_encoder", "vae", "tokenizer"} <= set(kept), receipt["model"]
