"""Holding under abuse: request bodies. Every string a request stores (or echoes) has a
bound, refused with a 400 naming the field and the rule before anything is fetched or
written; a body nested absurdly deep is a 400 naming the rule, never a 500; the served
schemas stay as they were (the bounds are validators)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fixtures.inprocess_app import png

from editserve.api.app import create_app
from editserve.api.body import MAX_JSON_DEPTH, json_depth
from editserve.core.settings import Settings
from editserve.services.keys import create_key

MODEL = "qwen-image-edit-plus"
IMAGE = "data:image/png;base64," + base64.b64encode(png()).decode()


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    app = create_app(Settings(data_dir=tmp_path))
    key = create_key(app.state.services.store, "t").secret
    return TestClient(app, headers={"Authorization": f"Bearer {key}"})


def body(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "prompt": "a hat", "input_image": [IMAGE], **fields}


def refused(response: Any, *rules: str) -> str:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_params"
    for rule in rules:
        assert rule in error["detail"], (rule, error["detail"])
    assert len(response.content) < 2000  # the refusal never echoes the value
    return str(error["detail"])


LONG_URL = "https://images.example/" + "a" * 2100 + ".png"

# (field, a value over its bound, what the detail says); the endpoint refuses each before
# anything is fetched (the URLs' host does not exist) or stored.
OVER_THE_BOUND = [
    ("target_namespace", "n" * 257, "target_namespace: must be at most 256 characters (got 257)"),
    ("model", "m" * 257, "model: must be at most 256 characters (got 257)"),
    ("input_image", [LONG_URL], "input_image: item 0: a URL must be at most 2048 characters"),
    ("input_image", LONG_URL, "input_image: item 0: a URL must be at most 2048 characters"),
    ("prompt", "p" * 4001, "prompt: String should have at most 4000 characters"),
    ("negative_prompt", "n" * 4001, "negative_prompt: String should have at most 4000"),
    ("webhook", "https://hook.example/" + "w" * 2048, "webhook: String should have at most 2048"),
    ("loras", [{"path": "l" * 2049}], "loras[0].path: String should have at most 2048"),
]


@pytest.mark.parametrize("path", ["/api/ai/queue", "/api/ai/images/edit"])
@pytest.mark.parametrize(("field", "value", "rule"), OVER_THE_BOUND)
def test_every_stored_string_has_a_bound(
    client: TestClient, path: str, field: str, value: Any, rule: str
) -> None:
    refused(client.post(path, json=body(**{field: value})), rule)


@pytest.mark.parametrize("path", ["/api/ai/queue", "/api/ai/images/edit"])
def test_the_idempotency_key_header_has_a_bound(client: TestClient, path: str) -> None:
    too_long = {"Idempotency-Key": "k" * 256}
    refused(
        client.post(path, json=body(), headers=too_long),
        "Idempotency-Key: must be at most 255 characters (got 256)",
    )


def test_values_at_the_bounds_are_accepted_and_stored(client: TestClient) -> None:
    headers = {"Idempotency-Key": "k" * 255}
    sent = body(target_namespace="n" * 256)
    response = client.post("/api/ai/queue", json=sent, headers=headers)
    assert response.status_code == 200, response.text
    (generation,) = response.json()["generations"]
    shown = client.get(f"/api/ai/queue/{generation['generation_id']}").json()
    assert shown["target_namespace"] == "n" * 256
    again = client.post("/api/ai/queue", json=sent, headers=headers)  # replayed by its key
    assert again.json()["generations"] == [generation]


def test_a_data_uri_is_bounded_by_bytes_not_by_the_url_limit(client: TestClient) -> None:
    big = "data:image/png;base64," + base64.b64encode(png(size=(900, 900))).decode()
    assert len(big) > 2048
    response = client.post("/api/ai/queue", json=body(input_image=[big]))
    assert response.status_code == 200, response.text


# --- nesting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/ai/queue", "/api/ai/images/edit"])
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 900, 100_000])
def test_deeply_nested_json_is_a_400_naming_the_rule(
    client: TestClient, path: str, depth: int
) -> None:
    nested = b'{"model": "' + MODEL.encode() + b'", "x": ' + b"[" * depth + b"]" * depth + b"}"
    response = client.post(path, content=nested, headers={"Content-Type": "application/json"})
    refused(response, f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels")


def test_nesting_within_the_bound_reaches_validation(client: TestClient) -> None:
    nested = {"model": MODEL, "x": [[[["deep"]]]]}
    response = client.post("/api/ai/queue", json=nested)
    refused(response, "x: unknown field")


def test_json_depth_is_measured_without_recursion() -> None:
    assert json_depth(1) == 0
    assert json_depth({"a": [1, {"b": []}]}) == 4
    deep: Any = []
    for _ in range(50_000):
        deep = [deep]
    assert json_depth(deep) > MAX_JSON_DEPTH


# --- the served schemas do not change ---------------------------------------------------------


def test_the_bounds_are_not_advertised_in_the_served_schemas(client: TestClient) -> None:
    schema = client.get(f"/api/ai/models/{MODEL}").json()["json_request_schema"]
    assert "maxLength" not in schema["properties"]["input_image"]["items"]
    openapi = client.get("/openapi.json").json()
    queue = openapi["paths"]["/api/ai/queue"]["post"]["requestBody"]["content"]
    envelope = queue["application/json"]["schema"]["properties"]
    assert "maxLength" not in str(envelope["target_namespace"])
    assert "maxLength" not in str(envelope["model"])
