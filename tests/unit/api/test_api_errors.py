"""Unexpected failures still answer with the envelope, never a stack trace."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from editserve.api.app import build_services, create_app
from editserve.core.settings import Settings
from editserve.services.keys import create_key


@pytest.fixture
def app_and_key(tmp_path: Path) -> tuple[object, str, object]:
    settings = Settings(data_dir=tmp_path)
    services = build_services(settings)
    key = create_key(services.store, "t").secret
    return create_app(settings, services), key, services


async def call(app: object, key: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path, headers={"Authorization": f"Bearer {key}"})


async def test_a_busy_store_is_503_with_retry_after(app_and_key, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    app, key, services = app_and_key

    def locked(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(services.store, "list_generations", locked)
    response = await call(app, key, "/api/ai/queue")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"]["type"] == "unavailable"


async def test_a_bug_is_500_unknown_error_without_traceback(app_and_key, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    app, key, services = app_and_key

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("secret internal detail")

    monkeypatch.setattr(services.store, "list_generations", broken)
    response = await call(app, key, "/api/ai/generations")
    assert response.status_code == 500
    body = response.json()
    assert body["status_message"] == "unknown_error"
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text


async def test_cors_is_off_by_default_and_opt_in(tmp_path: Path) -> None:
    preflight = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    for origins, allowed in (([], False), (["https://app.example.com"], True)):
        settings = Settings(data_dir=tmp_path / str(allowed), cors_origins=origins)
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.options("/api/ai/queue", headers=preflight)
        granted = response.headers.get("access-control-allow-origin")
        assert (granted == "https://app.example.com") is allowed


async def test_api_docs_are_served_without_a_cdn(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        page = await client.get("/docs")
        script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    assert "/docs/assets/swagger-ui-bundle.js" in page.text
    assert script.status_code == 200 and len(script.content) > 100_000
