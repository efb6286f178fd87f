"""Where a client written for the hosted API used to trip: each answer as the hosted API
documents it, or a 400 that names what is not supported here (issue 12, item 4)."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from editserve.api.app import build_services, create_app
from editserve.core.settings import Settings
from editserve.services.keys import create_key

MODEL = "qwen-image-edit-plus"


def data_uri(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    # The default (native) output area: the elongation limits are those of a real server.
    settings = Settings(data_dir=tmp_path)
    services = build_services(settings)
    key = create_key(services.store, "t").secret
    transport = httpx.ASGITransport(app=create_app(settings, services))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={"Authorization": f"Bearer {key}"}
    ) as client:
        yield client


def body(**change: Any) -> dict[str, Any]:
    return {"model": MODEL, "prompt": "Add a hat", "input_image": [data_uri(48, 32)], **change}


def error_of(response: httpx.Response) -> dict[str, Any]:
    payload = response.json()
    assert payload["status"] == "error" and payload["status_message"] == payload["error"]["type"]
    return payload["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", ["/api/ai/queue", "/api/ai/images/edit"])
async def test_an_unknown_model_is_404_model_not_found(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.post(path, json=body(model="no-such-model"))
    assert response.status_code == 404
    error = error_of(response)
    assert error["type"] == "resource_not_found"
    assert error["detail"] == "Model not found: no-such-model"


async def test_the_model_is_checked_by_id_or_alias_in_any_case(client: httpx.AsyncClient) -> None:
    for name in (MODEL.upper(), "Qwen/Qwen-Image-Edit-2509"):
        response = await client.post("/api/ai/queue", json=body(model=name))
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("?search=qwen", [MODEL]),
        ("?q=EDIT", [MODEL]),
        ("?search=2509", [MODEL]),
        ("?search=kling", []),
        ("?q=", [MODEL]),
        ("", [MODEL]),
    ],
)
async def test_model_search_answers_a_list(
    client: httpx.AsyncClient, query: str, found: list[str]
) -> None:
    response = await client.get(f"/api/ai/models/search{query}")
    assert response.status_code == 200, response.text
    listed = response.json()
    assert listed["object"] == "list"
    assert [model["id"] for model in listed["data"]] == found


async def test_the_model_object_has_the_hosted_fields(client: httpx.AsyncClient) -> None:
    card = (await client.get(f"/api/ai/models/{MODEL}")).json()
    listed = (await client.get("/api/ai/models")).json()["data"][0]
    for model in (card, listed):
        assert model["released_at"] == "2025-09-22T00:00:00Z"
        assert model["image_url"] is None
        assert model["pricing"] == {"method": "image", "cost_per_image": None}
        assert model["developer"] == {"name": "Qwen", "logo": None}
        assert model["fine_tuning"] is None and model["deployments"] == []
        assert model["model_type"] == "base" and model["endpoint"] == "/images/edit"
        assert model["source_model"] == "Qwen/Qwen-Image-Edit-2509"
    doc = (await client.get("/openapi.json")).json()
    documented = doc["components"]["schemas"]["ModelCard"]["properties"]
    assert {"released_at", "image_url", "pricing", "developer", "fine_tuning"} <= set(documented)


@pytest.mark.parametrize("path", ["/api/ai/queue", "/api/ai/generations"])
@pytest.mark.parametrize("name", ["namespace", "repo", "folder"])
async def test_hosted_filters_not_served_here_are_refused_by_name(
    client: httpx.AsyncClient, path: str, name: str
) -> None:
    response = await client.get(path, params={name: "ox"})
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "invalid_params"
    assert error["detail"].startswith(f"{name}: filter not supported")


@pytest.mark.parametrize("path", ["/api/ai/queue", "/api/ai/generations"])
async def test_an_unknown_query_parameter_is_refused_by_name(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path, params={"colour": "red", "status": "queued"})
    assert response.status_code == 400
    detail = error_of(response)["detail"]
    assert detail.startswith("colour: unknown query parameter")
    assert "status" in detail and "model" in detail


async def test_declared_filters_still_work(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/ai/queue", json=body())).status_code == 200
    queued = await client.get(
        "/api/ai/queue", params={"status": "queued, processing", "model": MODEL}
    )
    assert queued.status_code == 200 and queued.json()["count"] == 1
    history = await client.get(
        "/api/ai/generations", params={"page": 1, "page_size": 5, "media_type": "image"}
    )
    assert history.status_code == 200 and history.json()["total_entries"] == 1
    video = await client.get("/api/ai/generations", params={"media_type": "video"})
    assert video.status_code == 400 and error_of(video)["detail"].startswith("media_type:")
    empty = await client.get("/api/ai/queue", params={"status": ""})
    assert empty.status_code == 400 and error_of(empty)["detail"].startswith("status:")


async def test_a_page_past_any_database_integer_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/ai/generations", params={"page": 2**70})
    assert response.status_code == 400
    assert error_of(response)["detail"].startswith("page:")


@pytest.mark.parametrize("size", [(4000, 8), (8, 4000)])
async def test_an_input_the_processor_would_refuse_is_a_400_at_enqueue(
    client: httpx.AsyncClient, size: tuple[int, int]
) -> None:
    # 4000x8 used to be accepted and then fail in the worker with the image processor's
    # "absolute aspect ratio must be smaller than 200, got 268.0".
    images = [data_uri(48, 32), data_uri(*size)]
    response = await client.post("/api/ai/queue", json=body(input_image=images))
    assert response.status_code == 400
    detail = error_of(response)["detail"]
    assert detail.startswith(f"input_image[1]: {size[0]}x{size[1]} is too elongated")
    assert "268:1" in detail
    listed = (await client.get("/api/ai/generations")).json()
    assert listed["total_entries"] == 0
