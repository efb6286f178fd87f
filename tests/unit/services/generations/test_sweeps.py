"""Sweeps at enqueue (services/generations/sweeps.py): one generation per cell of the grid,
siblings in row-major order, each with its own full params and the sweep's record; and a
refusal naming ``sweep.<axis>`` for each rule."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from editserve.api.app import build_services, create_app
from editserve.core.settings import Settings
from editserve.services.keys import create_key


def data_uri() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


BODY: dict[str, Any] = {"model": "qwen-image-edit-plus", "prompt": "p", "input_image": "x"}


async def enqueued(client: httpx.AsyncClient, body: dict[str, Any]) -> list[str]:
    response = await client.post("/api/ai/queue", json=body)
    assert response.status_code == 200, response.text
    return [item["generation_id"] for item in response.json()["generations"]]


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, output_area=64 * 64)
    services = build_services(settings)
    key = create_key(services.store, "t").secret
    transport = httpx.ASGITransport(app=create_app(settings, services))
    client = httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={"Authorization": f"Bearer {key}"}
    )
    BODY["input_image"] = data_uri()
    return client, services


async def test_a_sweep_makes_one_generation_per_cell_in_row_major_order(served) -> None:  # type: ignore[no-untyped-def]
    client, services = served
    sweep = {"true_cfg_scale": [2.5, 4], "seed": [1, 2, 3]}
    response = await client.post("/api/ai/queue", json={**BODY, "sweep": sweep})
    assert response.status_code == 200, response.text
    ids = [item["generation_id"] for item in response.json()["generations"]]
    assert len(ids) == 6
    gens = [services.store.get_generation(gen_id) for gen_id in ids]
    assert len({gen.batch_id for gen in gens}) == 1
    assert [gen.batch_index for gen in gens] == list(range(6))
    cells = [(gen.params["true_cfg_scale"], gen.seed) for gen in gens]
    assert cells == [(2.5, 1), (2.5, 2), (2.5, 3), (4.0, 1), (4.0, 2), (4.0, 3)]
    assert all(gen.params["seed"] == gen.seed for gen in gens)
    view = (await client.get(f"/api/ai/queue/{ids[4]}")).json()
    assert view["true_cfg_scale"] == 4.0 and view["seed"] == 2
    assert view["sweep"] == {
        "id": gens[0].batch_id,
        "index": 4,
        "cells": 6,
        "axes": [
            {"axis": "true_cfg_scale", "values": [2.5, 4.0]},
            {"axis": "seed", "values": [1, 2, 3]},
        ],
        "position": [1, 1],
        "cell": [4.0, 2],
        "generation_ids": ids,
    }


async def test_cells_without_a_seed_axis_share_one_seed(served) -> None:  # type: ignore[no-untyped-def]
    client, services = served
    body = {**BODY, "sweep": {"num_inference_steps": [2, 3]}}
    ids = await enqueued(client, body)
    gens = [services.store.get_generation(gen_id) for gen_id in ids]
    assert [gen.params["num_inference_steps"] for gen in gens] == [2, 3]
    assert gens[0].seed == gens[1].seed
    given = {**body, "seed": 42}
    ids = await enqueued(client, given)
    assert {services.store.get_generation(gen_id).seed for gen_id in ids} == {42}


async def test_a_lora_axis_must_name_one_of_the_requests_loras(served) -> None:  # type: ignore[no-untyped-def]
    client, _services = served
    body = {**BODY, "sweep": {"lora_scales": {"missing-style": [0.5, 1]}}}
    refused = await client.post("/api/ai/queue", json=body)
    assert refused.status_code == 400
    assert "sweep.lora_scales.missing-style: not one of the request's loras" in refused.text


@pytest.mark.parametrize(
    ("sweep", "extra", "named"),
    [
        ({"guidance": [1, 2]}, {}, "sweep.guidance: unknown field"),
        ({"seed": []}, {}, "sweep.seed"),
        (
            {"seed": list(range(5)), "true_cfg_scale": [2, 3, 4, 5]},
            {},
            "sweep: 20 cells, at most 16",
        ),
        ({"true_cfg_scale": [2, 999]}, {}, "sweep.true_cfg_scale"),
        ({"num_inference_steps": [0]}, {}, "sweep.num_inference_steps"),
        ({"seed": [1, 2]}, {"num_generations": 2}, "num_generations: must be 1 with a sweep"),
        ([1, 2], {}, "sweep"),
        ({}, {}, "sweep: must be an object of axes"),
    ],
)
async def test_a_bad_sweep_is_refused_naming_the_axis(served, sweep, extra, named) -> None:  # type: ignore[no-untyped-def]
    client, services = served
    response = await client.post("/api/ai/queue", json={**BODY, **extra, "sweep": sweep})
    assert response.status_code == 400, response.text
    assert named in response.json()["error"]["detail"]
    assert services.store.count_active(services.store.list_keys()[0].id) == 0


async def test_a_request_without_a_sweep_is_as_before(served) -> None:  # type: ignore[no-untyped-def]
    client, services = served
    ids = await enqueued(client, {**BODY, "seed": 7, "num_generations": 3})
    gens = [services.store.get_generation(gen_id) for gen_id in ids]
    assert [gen.seed for gen in gens] == [7, 8, 9]
    assert all("sweep" not in gen.params for gen in gens)
