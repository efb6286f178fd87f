"""Holding under abuse: signed /files links. Every answer says nosniff; a lasting link dies
with its key (every node agrees at once: the store is read on each request), while an input
another live key also owns keeps working; the link format does not change."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fixtures.inprocess_app import OUTPUT, FakeWorker, png

from editserve.api.app import create_app
from editserve.blobs.links import link_maker
from editserve.core.settings import Settings
from editserve.services.keys import create_key

BASE = "http://testserver"


class Node:
    """One API node on the shared data dir (its SQLite file is the cluster's store)."""

    def __init__(self, data_dir: Path) -> None:
        self.app = create_app(Settings(data_dir=data_dir))
        self.services = self.app.state.services
        self.client = TestClient(self.app)

    def as_key(self, secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def nodes(tmp_path: Path) -> tuple[Node, Node]:
    return Node(tmp_path), Node(tmp_path)


def upload(node: Node, secret: str, data: bytes) -> dict[str, Any]:
    response = node.client.post(
        "/api/ai/uploads",
        content=data,
        headers={**node.as_key(secret), "Content-Type": "image/png"},
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def finished_output(node: Node, secret: str) -> str:
    """A generation of the key, run to success by a fake worker: its result link."""
    image = "data:image/png;base64," + base64.b64encode(png()).decode()
    body = {"model": "qwen-image-edit-plus", "prompt": "hat", "input_image": [image]}
    response = node.client.post("/api/ai/queue", json=body, headers=node.as_key(secret))
    assert response.status_code == 200, response.text
    worker = FakeWorker(node.services.store)
    gen = worker.claim()
    worker.succeed(gen, node.services.storage, OUTPUT)
    shown = node.client.get(f"/api/ai/queue/{gen.id}", headers=node.as_key(secret)).json()
    return str(shown["result_url"])


def test_links_die_with_their_key_on_every_node(nodes: tuple[Node, Node]) -> None:
    one, other = nodes
    alice = create_key(one.services.store, "alice")
    result = finished_output(one, alice.secret)
    preview = upload(one, alice.secret, png((9, 9, 9)))["preview_url"]
    for link in (result, preview):
        assert "signature=" in link and "expires=" not in link  # the format is unchanged
        assert one.client.get(link).status_code == 200
        assert other.client.get(link).status_code == 200

    assert one.services.store.revoke_key(alice.row.id)

    for node in (one, other):  # the other node agrees at once, without a restart
        for link in (result, preview):
            response = node.client.get(link)
            assert response.status_code == 404, response.text
            assert response.json()["error"]["type"] == "resource_not_found"
            assert node.client.head(link).status_code == 404


def test_an_input_lives_while_any_key_that_owns_it_does(nodes: tuple[Node, Node]) -> None:
    one, _ = nodes
    alice = create_key(one.services.store, "alice")
    bob = create_key(one.services.store, "bob")
    shared = png((5, 6, 7))
    link = upload(one, alice.secret, shared)["preview_url"]
    assert upload(one, bob.secret, shared)["preview_url"] == link  # content-addressed
    one.services.store.revoke_key(alice.row.id)
    assert one.client.get(link).status_code == 200  # bob's still
    one.services.store.revoke_key(bob.row.id)
    assert one.client.get(link).status_code == 404


def test_a_blob_no_key_owns_still_answers_while_it_exists(nodes: tuple[Node, Node]) -> None:
    one, _ = nodes
    key = "outputs/6f1c0d3e-9b1a-4b8e-8a0e-1f2d3c4b5a69.png"
    one.services.storage.put(key, OUTPUT, "image/png")
    link = link_maker(one.services.signer, BASE)(key)
    assert one.client.get(link).status_code == 200


def test_a_bad_signature_is_still_a_401_before_anything_else(nodes: tuple[Node, Node]) -> None:
    one, _ = nodes
    response = one.client.get("/files/outputs/x.png?signature=nope")
    assert response.status_code == 401


# --- nosniff ----------------------------------------------------------------------------------


class PresigningStorage:
    """Object storage as the route sees it: no local path, presigned URLs."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def local_path(self, key: str) -> Path | None:
        return None

    def exists(self, key: str) -> bool:
        return key in self.blobs

    def presigned_url(self, key: str, ttl_seconds: int) -> str | None:
        return f"https://bucket.example/{key}?X-Amz-Signature=ab"

    def get(self, key: str) -> bytes:
        return self.blobs[key]


def test_every_file_answer_says_nosniff(nodes: tuple[Node, Node]) -> None:
    one, _ = nodes
    key = "outputs/6f1c0d3e-9b1a-4b8e-8a0e-1f2d3c4b5a69.png"
    one.services.storage.put(key, OUTPUT, "image/png")
    link = link_maker(one.services.signer, BASE)(key)
    for response in (one.client.get(link), one.client.head(link)):
        assert response.status_code == 200
        assert response.headers["x-content-type-options"] == "nosniff"

    s3 = PresigningStorage()
    s3.blobs[key] = OUTPUT
    one.services.storage = s3
    redirect = one.client.get(link, follow_redirects=False)
    assert redirect.status_code == 307
    assert redirect.headers["x-content-type-options"] == "nosniff"
    s3.presigned_url = lambda key, ttl: None  # type: ignore[method-assign]
    proxied = one.client.get(link)
    assert proxied.status_code == 200 and proxied.content == OUTPUT
    assert proxied.headers["x-content-type-options"] == "nosniff"


def test_an_upload_read_back_says_nosniff(nodes: tuple[Node, Node]) -> None:
    one, _ = nodes
    alice = create_key(one.services.store, "alice")
    made = upload(one, alice.secret, png())
    response = one.client.get(made["url"], headers=one.as_key(alice.secret))
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
