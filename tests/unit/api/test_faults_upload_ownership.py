"""Another key's upload is never an input, through the real wiring: the app built by
build_services (the store-backed upload lookup, the cluster's own links), no fake lookup
doing the owner check itself. Key A uploads; key B naming A's upload URL as input_image
gets a 404 (on this server's own base URL and as another node's URL alike) and nothing is
enqueued for B; key A itself can use it; an upload nobody has is a 400 on our own base."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fixtures.inprocess_app import App, png

from editserve.services.keys import create_key

pytestmark = pytest.mark.timeout(60)

MODEL = "qwen-image-edit-plus"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[App, TestClient, dict[str, str], dict[str, str]]]:
    server = App(tmp_path, sync_timeout_seconds=3)
    other = create_key(server.services.store, "other").secret
    with TestClient(server.app) as http:
        yield server, http, _auth(server.key), _auth(other)


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _queue(http: TestClient, auth: dict[str, str], url: str) -> Any:
    return http.post(
        "/api/ai/queue",
        json={"model": MODEL, "prompt": "add a hat", "input_image": [url]},
        headers=auth,
    )


def _generation_ids(http: TestClient, auth: dict[str, str]) -> list[str]:
    listed = http.get("/api/ai/generations", params={"page_size": 100}, headers=auth)
    assert listed.status_code == 200, listed.text
    return [g["generation_id"] for g in listed.json()["generations"]]


def test_the_real_lookup_is_wired_to_the_store(
    served: tuple[App, TestClient, dict[str, str], dict[str, str]],
) -> None:
    """The app under test holds the store-backed lookup, not a stand-in."""
    server, _http, _a, _b = served
    lookup = server.services.inputs.lookup_upload
    assert lookup.__module__ == "editserve.services.uploads"


@pytest.mark.parametrize(
    "base", ["http://testserver", "http://10.0.0.7:8000"], ids=["own-base", "another-node"]
)
def test_another_keys_upload_is_a_404_as_input(
    served: tuple[App, TestClient, dict[str, str], dict[str, str]], base: str
) -> None:
    server, http, key_a, key_b = served
    upload = http.post(
        "/api/ai/uploads", files={"file": ("a.png", png(), "image/png")}, headers=key_a
    )
    assert upload.status_code == 200, upload.text
    upload_id = upload.json()["id"]
    url = f"{base}/api/ai/uploads/{upload_id}"
    # key B: refused as not found, on the queue and on the sync edit alike
    refused = _queue(http, key_b, url)
    assert refused.status_code == 404, refused.text
    assert refused.json()["error"]["detail"] == f"input_image[0]: upload not found: {upload_id}"
    edit = http.post(
        "/api/ai/images/edit",
        json={"model": MODEL, "prompt": "add a hat", "input_image": url},
        headers=key_b,
    )
    assert edit.status_code == 404, edit.text
    assert _generation_ids(http, key_b) == []
    # nor can B read it directly
    assert http.get(f"/api/ai/uploads/{upload_id}", headers=key_b).status_code == 404
    # key A: its own upload is an input
    accepted = _queue(http, key_a, url)
    assert accepted.status_code == 200, accepted.text
    assert len(_generation_ids(http, key_a)) == 1


def test_an_upload_nobody_has_is_a_400_on_our_own_base(
    served: tuple[App, TestClient, dict[str, str], dict[str, str]],
) -> None:
    _server, http, _key_a, key_b = served
    missing = "upl_" + "x" * 22
    refused = _queue(http, key_b, f"http://testserver/api/ai/uploads/{missing}")
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["detail"] == f"input_image[0]: upload not found: {missing}"
