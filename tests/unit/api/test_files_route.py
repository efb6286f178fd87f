"""GET/HEAD /files/<key>: lasting links from the local folder, a redirect to a fresh
presigned URL on object storage, the old expiring form, and the one error envelope."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fixtures.inprocess_app import png

from editserve.api.app import create_app
from editserve.blobs.links import link_maker
from editserve.core.errors import NotFound
from editserve.core.settings import Settings

KEY = "outputs/6f1c0d3e-9b1a-4b8e-8a0e-1f2d3c4b5a69.png"
BASE = "http://testserver"


class PresigningStorage:
    """Object storage as the route sees it: no local path, presigned URLs, and a count of
    reads (the node must not carry the bytes)."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.reads = 0
        self.presigned: list[tuple[str, int]] = []

    def local_path(self, key: str) -> Path | None:
        return None

    def exists(self, key: str) -> bool:
        return key in self.blobs

    def presigned_url(self, key: str, ttl_seconds: int) -> str | None:
        self.presigned.append((key, ttl_seconds))
        return f"https://bucket.example/{key}?X-Amz-Expires={ttl_seconds}&X-Amz-Signature=ab"

    def get(self, key: str) -> bytes:
        self.reads += 1
        if key not in self.blobs:
            raise NotFound(f"Blob not found: {key}")
        return self.blobs[key]


def make_client(tmp_path: Path, **overrides: Any) -> tuple[TestClient, Any]:
    app = create_app(Settings(data_dir=tmp_path, **overrides))
    return TestClient(app), app.state.services


@pytest.fixture
def served(tmp_path: Path) -> tuple[TestClient, Any]:
    return make_client(tmp_path)


def assert_envelope(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error" and body["error"]["type"] == kind
    return body


def test_a_lasting_link_serves_the_local_file(served: tuple[TestClient, Any]) -> None:
    client, svc = served
    data = png()
    svc.storage.put(KEY, data, "image/png")
    url = link_maker(svc.signer, BASE)(KEY)
    assert "expires=" not in url and "signature=" in url
    response = client.get(url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/png"
    cache = response.headers["cache-control"]
    assert "immutable" in cache and "private" in cache and "max-age=31536000" in cache
    head = client.head(url)
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len(data)


def test_the_old_expiring_form_still_works_until_it_expires(
    served: tuple[TestClient, Any],
) -> None:
    client, svc = served
    svc.storage.put(KEY, png(), "image/png")
    assert client.get(BASE + svc.signer.signed_path(KEY, 60)).status_code == 200
    expired = svc.signer.signed_path(KEY, 60, now=time.time() - 120)
    assert_envelope(client.get(BASE + expired), 401, "unauthenticated")


def test_tampered_links_are_refused(served: tuple[TestClient, Any]) -> None:
    client, svc = served
    other = "outputs/00000000-0000-0000-0000-000000000000.png"
    svc.storage.put(KEY, png(), "image/png")
    svc.storage.put(other, png(), "image/png")
    url = link_maker(svc.signer, BASE)(KEY)
    body = assert_envelope(client.get(url.replace(KEY, other)), 401, "unauthenticated")
    assert body["error"]["detail"].startswith("signature: ")
    assert_envelope(client.get(url + "&expires=9999999999"), 401, "unauthenticated")
    assert_envelope(client.get(url.replace("signature=", "signature=0")), 401, "unauthenticated")
    assert_envelope(client.get(url.split("?")[0]), 400, "invalid_params")


def test_a_link_whose_file_is_gone_is_a_404(served: tuple[TestClient, Any]) -> None:
    client, svc = served
    url = link_maker(svc.signer, BASE)(KEY)
    body = assert_envelope(client.get(url), 404, "resource_not_found")
    assert KEY in body["error"]["detail"]
    svc.storage.put(KEY, png(), "image/png")
    assert client.get(url).status_code == 200
    svc.storage.delete(KEY)  # pruned
    assert_envelope(client.get(url), 404, "resource_not_found")


def test_object_storage_answers_with_a_fresh_presigned_redirect(tmp_path: Path) -> None:
    client, svc = make_client(tmp_path, url_ttl_seconds=600)
    storage = PresigningStorage()
    svc.storage = storage
    storage.blobs[KEY] = png()
    url = link_maker(svc.signer, BASE)(KEY)
    response = client.get(url, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == (
        f"https://bucket.example/{KEY}?X-Amz-Expires=600&X-Amz-Signature=ab"
    )
    assert response.headers["cache-control"] == "private, max-age=300"
    assert storage.presigned == [(KEY, 600)]
    assert client.head(url, follow_redirects=False).status_code == 307
    assert storage.reads == 0  # the bytes never pass through the node
    del storage.blobs[KEY]
    assert_envelope(client.get(url, follow_redirects=False), 404, "resource_not_found")
    assert storage.reads == 0


def test_ttl_setting_is_bounded_by_what_presigning_allows(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="url_ttl_seconds"):
        Settings(data_dir=tmp_path, url_ttl_seconds=8 * 24 * 3600)
    with pytest.raises(ValueError, match="url_ttl_seconds"):
        Settings(data_dir=tmp_path, url_ttl_seconds=0)
