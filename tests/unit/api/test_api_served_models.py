"""One server, several models, in process: the API serves what EDITSERVE_MODELS names. A
registered model the server does not serve is a 404 "Model not found", as an unknown one
is, and the models endpoint lists each served model with the workers that hold it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from editserve.api.app import build_services, create_app
from editserve.api.context import AppServices
from editserve.core.settings import Settings
from editserve.models.registry import ModelRegistry
from editserve.models.spec import ModelSpec, SizePlan
from editserve.services.keys import create_key
from editserve.store.rows import WorkerRow, WorkerState

SERVED, NOT_SERVED = "fixture-served", "fixture-registered"


class Params(BaseModel):
    prompt: str
    input_image: list[str]


def fixture_spec(model_id: str) -> ModelSpec:
    card = {
        "id": model_id,
        "created": 0, "owned_by": "tests", "display_name": model_id, "endpoint": "/images/edit",
        "capabilities": {"input": ["image"], "output": ["image"]}, "developer": {"name": "t"},
    }  # fmt: skip
    return ModelSpec(
        id=model_id, aliases=(f"{model_id}-alias",), params_model=Params, card=card,
        request_schema=lambda: {"type": "object", "properties": {}},
        adapter_path="tests:NotLoadedHere", plan_size=lambda *_: SizePlan(64, 64, 4096),
        build_job=lambda *_a, **_k: None,
    )  # fmt: skip


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, AppServices]]:
    registry = ModelRegistry([fixture_spec(SERVED), fixture_spec(NOT_SERVED)])
    # fixture models are not in the default registry: set them past its validation
    settings = Settings(data_dir=tmp_path).model_copy(update={"models": [SERVED]})
    services = build_services(settings, registry)
    key = create_key(services.store, "t").secret
    transport = httpx.ASGITransport(app=create_app(settings, services))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={"Authorization": f"Bearer {key}"}
    ) as client:
        yield client, services


def body(model: str) -> dict[str, Any]:
    return {"model": model, "prompt": "hat", "input_image": ["https://example.com/a.png"]}


@pytest.mark.parametrize("path", ["/api/ai/queue", "/api/ai/images/edit"])
async def test_a_registered_model_not_served_is_404_model_not_found(
    served: tuple[httpx.AsyncClient, AppServices], path: str
) -> None:
    client, services = served
    for name in (NOT_SERVED, f"{NOT_SERVED}-alias"):
        response = await client.post(path, json=body(name))
        assert response.status_code == 404, response.text
        assert response.json()["error"]["detail"] == f"Model not found: {name}"
    response = await client.get(f"/api/ai/models/{NOT_SERVED}")
    assert response.status_code == 404


async def test_the_models_endpoint_lists_served_models_and_where_they_are_loaded(
    served: tuple[httpx.AsyncClient, AppServices],
) -> None:
    client, services = served
    now = time.time()
    services.store.upsert_worker(
        WorkerRow(
            id="w0", host="h", pid=1, device="cuda:0", state=WorkerState.READY, started_at=now,
            heartbeat_at=now, model=SERVED, models=[SERVED], swaps=2,
            weights={"model": SERVED, "source": "tiny-random", "is_tiny": False},
        )
    )  # fmt: skip
    services.store.upsert_worker(
        WorkerRow(
            id="w1", host="h", pid=2, device="cuda:1", state=WorkerState.READY, started_at=now,
            heartbeat_at=now, model=NOT_SERVED, models=[NOT_SERVED],
        )
    )  # fmt: skip
    listed = (await client.get("/api/ai/models")).json()["data"]
    assert [card["id"] for card in listed] == [SERVED]
    (card,) = listed
    assert card["readiness"] == "ready" and card["loaded"] is True
    assert card["loaded_on"] == [
        {"worker_id": "w0", "device": "cuda:0", "state": "ready", "swaps": 2}
    ]
    assert card["workers"]["total"] == 1  # w1 serves another model only
    metrics = (await client.get("/metrics")).text
    assert 'editserve_model_swaps_total{worker="w0"} 2.0' in metrics
    assert 'editserve_model_loaded{device="cuda:0",model="fixture-served",worker="w0"} 1.0' in (
        metrics
    )
