"""qwen-image-layered through a real `editserve serve` process on its tiny twin: one picture
in, RGBA PNG layers out. The sync edit answers with every layer in order; the generation
lists them (``layer_urls``, the first is ``result_url``), each a lasting link that needs
no key and that the key's requests may use as an input; the SSE completed event is the
hosted API's (its ``url`` the first layer); a server serving it beside an edit model runs
both."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.e2e import read_sse, wait_for
from fixtures.support import LiveServer, make_png, start_server, stop_server
from PIL import Image

pytestmark = pytest.mark.slow

MODEL = "qwen-image-layered"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Any) -> Iterator[LiveServer]:
    """The layered model and an edit model served; the worker swaps at once."""
    live = start_server(
        tmp_path_factory.mktemp("layered-server"),
        EDITSERVE_MODELS=f"{MODEL},qwen-image-edit-plus",
        EDITSERVE_MODEL_SWAP_AFTER_SECONDS="0",
    )
    try:
        yield live
    finally:
        stop_server(live.process)


def _picture() -> str:
    """A 2:1 picture: at the server's 64x64 area and resolution 1024, 96x32 layers."""
    return "data:image/png;base64," + base64.b64encode(make_png(128, 64)).decode()


def _body(**fields: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "input_image": _picture(),
        "prompt": "a red poster",
        "layers": 3,
        "resolution": 1024,
        "num_inference_steps": 2,
        **fields,
    }


def _layer(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_the_sync_edit_answers_with_every_layer_in_order(server: LiveServer) -> None:
    with server.client() as client:
        response = client.post("/api/ai/images/edit", json=_body(seed=5))
        assert response.status_code == 200, response.text
        answer = response.json()
        assert (answer["width"], answer["height"], answer["seed"]) == (96, 32, 5)
        urls = [item["url"] for item in answer["images"]]
        gen_id = answer["generation_id"]
        assert [url.split("?")[0].rsplit("/", 1)[1] for url in urls] == [
            f"{gen_id}-layer-{n}.png" for n in (1, 2, 3)
        ]
        record = client.get(f"/api/ai/queue/{gen_id}").json()
        assert record["status"] == "succeeded" and record["layers"] == 3
        assert record["layer_urls"] == urls and record["result_url"] == urls[0]
        assert record["receipt"]["layers"] == 3 and record["receipt"]["is_tiny"] is True
        assert record["receipt"]["weights"]["details"]["pipeline"] == "QwenImageLayeredPipeline"
    # lasting links: no key needed, each an RGBA PNG of the planned size
    layers = [_layer(httpx.get(url, timeout=30).content) for url in urls]
    assert [(i.format, i.mode, i.size) for i in layers] == [("PNG", "RGBA", (96, 32))] * 3
    assert len({layer.tobytes() for layer in layers}) == 3

    # b64_json: the same layers' bytes, in the same order
    with server.client() as client:
        again = client.post("/api/ai/images/edit", json=_body(seed=5, response_format="b64_json"))
        assert again.status_code == 200, again.text
        decoded = [_layer(base64.b64decode(item["b64_json"])) for item in again.json()["images"]]
    assert [layer.tobytes() for layer in decoded] == [layer.tobytes() for layer in layers]

    # the SSE completed event is the hosted API's: its url is the first layer
    def completed(frames: list[dict[str, Any]]) -> bool:
        return any(
            f.get("event") == "media_generation_completed" and f["data"]["generation_id"] == gen_id
            for f in frames
        )

    with (
        server.client() as client,
        client.stream("GET", "/api/events", headers={"Last-Event-ID": "0"}) as stream,
    ):
        frames = read_sse(stream, completed)
    [event] = [
        f
        for f in frames
        if f.get("event") == "media_generation_completed" and f["data"]["generation_id"] == gen_id
    ]
    assert list(event["data"]) == ["generation_id", "status", "media_type", "model", "url"]
    assert event["data"]["url"].split("?")[0] == urls[0].split("?")[0]


def test_queued_requests_each_get_their_layers_and_a_layer_is_an_input(
    server: LiveServer,
) -> None:
    with server.client() as client:
        queued = client.post("/api/ai/queue", json=_body(num_generations=2, layers=2))
        assert queued.status_code == 200, queued.text
        records = [wait_for(client, g["generation_id"]) for g in queued.json()["generations"]]
        assert all(record["status"] == "succeeded" for record in records), records
        assert records[0]["seed"] != records[1]["seed"]
        for record in records:
            assert len(record["layer_urls"]) == 2
            assert record["layer_urls"][0] == record["result_url"]
            assert all(f"{record['generation_id']}-layer-" in url for url in record["layer_urls"])
        # a layer is the key's own file: it edits like any of its results
        edit = client.post(
            "/api/ai/queue",
            json={
                "model": "qwen-image-edit-plus",
                "prompt": "make it blue",
                "input_image": [records[0]["layer_urls"][1]],
                "num_inference_steps": 2,
            },
        )
        assert edit.status_code == 200, edit.text
        done = wait_for(client, edit.json()["generations"][0]["generation_id"])
        assert done["status"] == "succeeded" and done["model_name"] == "qwen-image-edit-plus"
        assert "layer_urls" not in done  # a one-picture model's generation has none
        models = {
            card["id"]: card["endpoint"] for card in client.get("/api/ai/models").json()["data"]
        }
        assert models == {MODEL: "/images/edit", "qwen-image-edit-plus": "/images/edit"}


def test_the_openai_sdk_gets_every_layer(server: LiveServer) -> None:
    from openai import OpenAI

    sdk = OpenAI(base_url=server.base_url + "/v1", api_key=server.api_key)
    result = sdk.images.edit(
        model=MODEL,
        image=("picture.png", make_png(64, 48), "image/png"),
        prompt="a poster",
        extra_body={"layers": 3, "num_inference_steps": 2},
    )
    layers = [_layer(base64.b64decode(item.b64_json or "")) for item in result.data]
    assert len(layers) == 3 and {layer.mode for layer in layers} == {"RGBA"}


def test_the_python_client_reads_every_layer(server: LiveServer, tmp_path: Path) -> None:
    from editserve import Client

    with Client(server.base_url, server.api_key) as client:
        edited = client.images.edit(
            model=MODEL, prompt="a poster", input_image=make_png(64, 48), layers=3,
            num_inference_steps=2,
        )  # fmt: skip
        assert len(edited.images) == 3
        [queued] = client.queue.submit(
            model=MODEL, prompt="a poster", input_image=make_png(64, 48), layers=2,
            num_inference_steps=2,
        )  # fmt: skip
        done = client.queue.wait(queued, timeout=300)
        assert len(done.layer_urls) == 2 and done.layer_urls[0] == done.result_url
        saved = [layer.save(tmp_path / f"layer-{n}.png") for n, layer in enumerate(done.layers)]
        assert [Image.open(path).mode for path in saved] == ["RGBA", "RGBA"]
