"""A request's kind follows its model: edit models take pictures on the edit calls, generate
models take a prompt on the generate calls, and either goes through the queue. A model on
the wrong call, or pictures given to a generate model, is a 400 that says which call or
which model to use — on the hosted API's paths and on OpenAI's, each naming its own calls.
The sync generate call answers in the hosted API's shape once its generations finish."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.inprocess_app import OUTPUT, FakeWorker
from pydantic import BaseModel, ConfigDict

from editserve.api.app import build_services, create_app
from editserve.api.context import AppServices
from editserve.core.settings import Settings
from editserve.models.registry import ModelRegistry
from editserve.models.spec import ModelKind, ModelSpec, SizePlan
from editserve.services.keys import create_key

EDITS, GENERATES = "fixture-edit", "fixture-generate"


class EditParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str
    input_image: list[str]


class GenerateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str
    seed: int | None = None


def fixture_spec(model_id: str, kind: ModelKind) -> ModelSpec:
    card = {"id": model_id, "created": 0, "owned_by": "tests", "display_name": model_id}
    return ModelSpec(
        id=model_id, aliases=(), card=card, kind=kind,
        params_model=EditParams if kind == "edit" else GenerateParams,
        request_schema=lambda: {"type": "object", "properties": {}},
        adapter_path="tests:NotLoadedHere", plan_size=lambda *_: SizePlan(48, 32, 1536),
        build_job=lambda *_a, **_k: None,
    )  # fmt: skip


Served = tuple[httpx.AsyncClient, AppServices]


async def serve(tmp_path: Path, models: list[str]) -> tuple[httpx.AsyncClient, AppServices]:
    registry = ModelRegistry([fixture_spec(EDITS, "edit"), fixture_spec(GENERATES, "generate")])
    # fixture models are not in the default registry: set them past its validation
    settings = Settings(data_dir=tmp_path).model_copy(update={"models": models})
    services = build_services(settings, registry)
    key = create_key(services.store, "t").secret
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, services)),
        base_url="http://t",
        headers={"Authorization": f"Bearer {key}"},
    )
    return client, services


@pytest.fixture
async def both(tmp_path: Path) -> AsyncIterator[Served]:
    client, services = await serve(tmp_path, [EDITS, GENERATES])
    async with client:
        yield client, services


@pytest.fixture
async def edits_only(tmp_path: Path) -> AsyncIterator[Served]:
    client, services = await serve(tmp_path, [EDITS])
    async with client:
        yield client, services


PICTURE = "data:image/png;base64,iVBORw0KGgo="


async def detail(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    return str(error["message"] if "message" in error else error["detail"])


async def test_an_edit_model_on_the_generate_call_is_sent_to_the_edit_call(both: Served) -> None:
    client, _ = both
    said = await detail(
        await client.post("/api/ai/images/generate", json={"model": EDITS, "prompt": "a fox"})
    )
    assert said == (
        f"model: {EDITS} edits pictures: call POST /api/ai/images/edit (with input_image), "
        f"or generate with {GENERATES}"
    )


async def test_a_generate_model_on_the_edit_call_is_sent_to_the_generate_call(
    both: Served,
) -> None:
    client, _ = both
    body = {"model": GENERATES, "prompt": "a fox", "input_image": [PICTURE]}
    said = await detail(await client.post("/api/ai/images/edit", json=body))
    assert said == (
        f"model: {GENERATES} makes pictures from a prompt alone: call "
        f"POST /api/ai/images/generate, or edit with {EDITS}"
    )


async def test_pictures_given_to_a_generate_model_are_refused_by_name(both: Served) -> None:
    client, _ = both
    body = {"model": GENERATES, "prompt": "a fox", "input_image": [PICTURE]}
    said = await detail(await client.post("/api/ai/queue", json=body))
    assert said.startswith(f"input_image: {GENERATES} makes pictures from a prompt alone")
    assert said.endswith(f"to edit pictures, edit with {EDITS}")
    assert (await client.get("/api/ai/queue")).json()["generations"] == []  # nothing queued


async def test_the_queue_takes_a_generate_model_with_a_prompt_alone(both: Served) -> None:
    client, services = both
    response = await client.post(
        "/api/ai/queue", json={"model": GENERATES, "prompt": "a fox", "num_generations": 2}
    )
    assert response.status_code == 200, response.text
    ids = [g["generation_id"] for g in response.json()["generations"]]
    for gen_id in ids:
        view = (await client.get(f"/api/ai/queue/{gen_id}")).json()
        assert (view["status"], view["model_name"]) == ("queued", GENERATES)
        assert (view["width"], view["height"]) == (48, 32)
        assert view["input_urls"] == []
    stored = services.store.get_generation(ids[0])
    assert stored is not None and "input_image" not in stored.params


async def test_the_sync_generate_call_answers_in_the_hosted_shape(both: Served) -> None:
    client, services = both
    worker = FakeWorker(services.store)

    def finish_two() -> None:
        for _ in range(2):
            deadline = time.monotonic() + 10
            gen = None
            while gen is None and time.monotonic() < deadline:
                gen = worker.claim([GENERATES])
                time.sleep(0.02)
            assert gen is not None
            worker.succeed(gen, services.storage, OUTPUT)

    body = {"model": GENERATES, "prompt": "a fox", "num_generations": 2, "seed": 7}
    answer, _ = await asyncio.gather(
        client.post("/api/ai/images/generate", json=body), asyncio.to_thread(finish_two)
    )
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert (got["model"], len(got["images"])) == (GENERATES, 2)
    assert got["image_url"] == got["images"][0]["url"]
    assert [g["seed"] for g in got["generations"]] == [7, 8]
    for image in got["images"]:
        assert (await client.get(image["url"])).content == OUTPUT


async def test_openai_calls_name_their_own_endpoints(both: Served) -> None:
    client, _ = both
    response = await client.post("/v1/images/generations", json={"model": EDITS, "prompt": "x"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "model"
    assert error["message"] == (
        f"model: {EDITS} edits pictures: call POST /v1/images/edits (with image files), "
        f"or generate with {GENERATES}"
    )
    form = {"model": GENERATES, "prompt": "x"}
    files = {"image": ("a.png", OUTPUT, "image/png")}
    response = await client.post("/v1/images/edits", data=form, files=files)
    assert "call POST /v1/images/generations, or edit with" in response.json()["error"]["message"]


async def test_openai_generations_refuse_what_they_cannot_do(both: Served) -> None:
    client, _ = both
    for body, field in (
        ({"prompt": "x", "stream": True}, "stream"),
        ({"prompt": "x", "background": "transparent"}, "background"),
        ({"prompt": "x", "n": 5}, "n"),
        ({"prompt": "x", "size": "big"}, "size"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x", "colour": "red"}, "colour"),
    ):
        response = await client.post("/v1/images/generations", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["message"].startswith(f"{field}:"), body


async def test_without_a_generate_model_the_advice_says_to_serve_one(edits_only: Served) -> None:
    client, _ = edits_only
    response = await client.post("/v1/images/generations", json={"prompt": "a fox"})
    assert response.status_code == 400
    assert response.json()["error"]["message"].endswith(
        "or serve a model that can generate (EDITSERVE_MODELS; see GET /api/ai/models)"
    )
    assert (await client.get("/api/ai/queue")).json()["generations"] == []


async def test_the_openapi_document_lists_the_generate_calls(both: Served) -> None:
    client, _ = both
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/api/ai/images/generate" in paths and "/v1/images/generations" in paths
    body = paths["/api/ai/images/generate"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"]["title"] == "GenerateRequest"
