"""The enqueue use case in-process: it reads one way, and refusals leave nothing behind."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import httpx
import pytest
from PIL import Image

from editserve.api.app import build_services, create_app
from editserve.core.settings import Settings
from editserve.services.keys import create_key


def data_uri(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, max_queued_per_key=2, output_area=64 * 64)
    services = build_services(settings)
    key = create_key(services.store, "t").secret
    transport = httpx.ASGITransport(app=create_app(settings, services))
    client = httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={"Authorization": f"Bearer {key}"}
    )
    return client, services


def stored_inputs(services) -> list[str]:  # type: ignore[no-untyped-def]
    folder = services.settings.data_dir / "files" / "inputs"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def test_a_too_elongated_input_is_refused_before_anything_is_stored(served) -> None:  # type: ignore[no-untyped-def]
    client, services = served
    body = {
        "model": "qwen-image-edit-plus",
        "prompt": "p",
        "input_image": [data_uri(64, 64), data_uri(600, 2)],
    }
    response = await client.post("/api/ai/queue", json=body)
    assert response.status_code == 400
    assert "input_image[1]" in response.json()["error"]["detail"]
    assert "too elongated" in response.json()["error"]["detail"]
    assert stored_inputs(services) == []  # not even the acceptable first image
    assert services.store.count_active(services.store.list_keys()[0].id) == 0

    body["input_image"] = [data_uri(64, 64)]
    assert (await client.post("/api/ai/queue", json=body)).status_code == 200
    assert len(stored_inputs(services)) == 1


async def test_over_capacity_is_refused_before_inputs_are_fetched_or_stored(served) -> None:  # type: ignore[no-untyped-def]
    client, services = served
    body = {"model": "qwen-image-edit-plus", "prompt": "p", "input_image": data_uri(32, 32)}
    assert (await client.post("/api/ai/queue", json={**body, "num_generations": 2})).is_success
    before = stored_inputs(services)
    refused = await client.post("/api/ai/queue", json={**body, "input_image": data_uri(40, 40)})
    assert refused.status_code == 429 and refused.headers["retry-after"]
    assert stored_inputs(services) == before


async def test_openapi_documents_the_responses(served) -> None:  # type: ignore[no-untyped-def]
    client, _services = served
    doc = (await client.get("/openapi.json")).json()

    def ok_schema(path: str, method: str) -> str:
        content = doc["paths"][path][method]["responses"]["200"]["content"]
        return str(content["application/json"]["schema"]["$ref"]).rsplit("/", 1)[-1]

    assert ok_schema("/api/ai/queue", "post") == "EnqueueResponse"
    assert ok_schema("/api/ai/queue/{generation_id}", "get") == "GenerationView"
    assert ok_schema("/api/ai/images/edit", "post") == "EditResponse"
    assert ok_schema("/api/ai/models", "get") == "ModelList"
    view = doc["components"]["schemas"]["GenerationView"]["properties"]
    assert {"generation_id", "status", "result_url", "queue_position"} <= set(view)
    errors = doc["paths"]["/api/ai/queue"]["post"]["responses"]
    assert errors["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorEnvelope")
    body = doc["paths"]["/api/ai/queue"]["post"]["requestBody"]["content"]["application/json"]
    assert {"model", "prompt", "input_image", "num_generations"} <= set(
        body["schema"]["properties"]
    )
