"""What the OpenAPI fuzz run (tests/e2e/test_fuzz_e2e.py) found, pinned in-process: each
was a response that did not match the documentation, or an error outside the envelope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from editserve.api.app import build_services, create_app
from editserve.core.settings import Settings
from editserve.services.keys import create_key


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(data_dir=tmp_path)
    services = build_services(settings)
    key = create_key(services.store, "t").secret
    transport = httpx.ASGITransport(app=create_app(settings, services))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={"Authorization": f"Bearer {key}"}
    ) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/ai/queue", "GET, POST"),
        ("/api/ai/queue/00000000-0000-4000-8000-000000000000", "GET, DELETE"),
        ("/api/ai/models/search", "GET"),
    ],
)
async def test_a_405_allows_every_method_of_the_path(
    client: httpx.AsyncClient, path: str, allowed: str
) -> None:
    # Starlette named only the first route's methods (POST for /api/ai/queue).
    response = await client.request("OPTIONS", path)
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "method_not_allowed"
    assert set(response.headers["allow"].split(", ")) == set(allowed.split(", "))


async def test_a_body_starlette_cannot_parse_is_invalid_params(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/ai/uploads", headers={"Content-Type": "multipart/form-data"}, content=b"x"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["status_message"] == "invalid_params"  # was "http_error"
    assert body["error"]["detail"] == "body: could not be parsed as multipart/form-data"


async def test_the_document_promises_no_422_and_documents_file_errors(
    client: httpx.AsyncClient,
) -> None:
    doc = (await client.get("/openapi.json")).json()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    files = doc["paths"]["/files/{key}"]["get"]["responses"]
    assert {"200", "400", "401", "404"} <= set(files)
    assert "image/*" in files["200"]["content"]
    queue_errors = doc["paths"]["/api/ai/queue"]["post"]["responses"]
    assert "409" in queue_errors  # an Idempotency-Key reused with another body
    v1 = doc["paths"]["/v1/images/edits"]["post"]["responses"]
    assert v1["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/OpenAIError")


async def test_list_filters_are_documented_as_they_are_checked(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    params = {p["name"]: p for p in doc["paths"]["/api/ai/generations"]["get"]["parameters"]}
    assert params["media_type"]["schema"]["enum"] == ["image"]
    assert params["status"]["schema"]["pattern"].startswith("^ *(queued|")
    assert params["page"]["schema"]["maximum"] == 1_000_000
