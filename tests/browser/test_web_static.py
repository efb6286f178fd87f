"""The workbench's static route (no browser needed): redirects, types, CSP, no escapes."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from editserve.api.errors import install_error_handlers
from editserve.api.routes import web
from editserve.api.routes.web import WEB_ROOT


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(web.router)
    return TestClient(app, follow_redirects=False)


def test_root_and_bare_path_redirect_to_the_workbench(client: TestClient) -> None:
    for path in ("/", "/workbench"):
        response = client.get(path)
        assert response.status_code == 307
        assert response.headers["location"] == "/workbench/"


def test_index_and_assets_are_served_with_a_strict_policy(client: TestClient) -> None:
    index = client.get("/workbench/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    policy = index.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert index.headers["cache-control"] == "no-cache"
    assert client.head("/workbench/").status_code == 200

    script = client.get("/workbench/js/main.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert client.get("/workbench/css/app.css").headers["content-type"].startswith("text/css")
    assert client.get("/favicon.ico").headers["content-type"] == "image/svg+xml"


@pytest.mark.parametrize(
    "path",
    [
        "/workbench/missing.js",
        "/workbench/../routes/web.py",
        "/workbench/%2e%2e/%2e%2e/config.py",
        "/workbench/..%2f..%2fconfig.py",
    ],
)
def test_nothing_outside_the_web_folder_is_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_the_page_loads_nothing_from_elsewhere() -> None:
    """No CDN scripts, styles or fonts: every reference in the files is relative."""
    pattern = re.compile(r"""(?:src|href)\s*=\s*["'](?!#)([^"']+)|@import|url\(\s*["']?(https?:)""")
    for path in WEB_ROOT.rglob("*"):
        if path.suffix not in {".html", ".css", ".js"}:
            continue
        text = path.read_text()
        for match in pattern.finditer(text):
            reference = match.group(1) or match.group(0)
            assert not re.match(r"(https?:)?//", reference), f"{path.name}: {reference}"
        assert "fonts.googleapis" not in text and "cdn." not in text, path.name
