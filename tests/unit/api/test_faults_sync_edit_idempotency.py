"""`Idempotency-Key` on the synchronous edit (POST /api/ai/images/edit), as on the queue: a
retry with the same key and body answers the same generation and stores no second one; the
same key with another body is a 409. The real app (store, hub, lifespan) with a fake
worker; the sync wait is short, so a retry that enqueued anew would fail with a 504 at
once instead of waiting for a worker that never comes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fixtures.inprocess_app import App, png

pytestmark = pytest.mark.timeout(60)

EDIT = "/api/ai/images/edit"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[App, TestClient]]:
    server = App(tmp_path, sync_timeout_seconds=3)
    with TestClient(server.app) as http:
        http.headers["Authorization"] = f"Bearer {server.key}"
        yield server, http


def body(prompt: str = "add a hat") -> dict[str, Any]:
    import base64

    return {
        "model": "qwen-image-edit-plus",
        "prompt": prompt,
        "input_image": "data:image/png;base64," + base64.b64encode(png()).decode(),
        "seed": 7,
    }


def generation_ids(http: TestClient) -> list[str]:
    listed = http.get("/api/ai/generations", params={"page_size": 100})
    assert listed.status_code == 200, listed.text
    return [g["generation_id"] for g in listed.json()["generations"]]


def test_a_retried_sync_edit_with_the_same_key_answers_the_same_generation(
    served: tuple[App, TestClient],
) -> None:
    server, http = served
    worker = server.run_worker(steps=1, delay=0.01)
    first = http.post(EDIT, json=body(), headers={"Idempotency-Key": "edit-1"})
    assert first.status_code == 200, first.text
    worker.join(10)
    # no worker now: a retry that enqueued again would wait and answer 504
    again = http.post(EDIT, json=body(), headers={"Idempotency-Key": "edit-1"})
    assert again.status_code == 200, again.text
    assert again.json()["generation_id"] == first.json()["generation_id"]
    assert again.json()["images"] == first.json()["images"]
    assert generation_ids(http) == [first.json()["generation_id"]]  # one stored


def test_the_same_key_with_another_body_is_a_409_and_stores_nothing(
    served: tuple[App, TestClient],
) -> None:
    server, http = served
    worker = server.run_worker(steps=1, delay=0.01)
    first = http.post(EDIT, json=body(), headers={"Idempotency-Key": "edit-2"})
    assert first.status_code == 200, first.text
    worker.join(10)
    other = http.post(EDIT, json=body("something else"), headers={"Idempotency-Key": "edit-2"})
    assert other.status_code == 409, other.text
    assert "Idempotency-Key" in other.json()["error"]["detail"]
    assert generation_ids(http) == [first.json()["generation_id"]]


def test_a_sync_edit_retried_while_it_runs_waits_for_the_one_generation(
    served: tuple[App, TestClient],
) -> None:
    """The retry of a timed-out (504) edit with the same key waits for the generation the
    first call made, never a second one."""
    server, http = served
    timed_out = http.post(EDIT, json=body(), headers={"Idempotency-Key": "edit-3"})
    assert timed_out.status_code == 504, timed_out.text
    gen_id = timed_out.json()["generation_id"]
    worker = server.run_worker(steps=1, delay=0.01)
    retried = http.post(EDIT, json=body(), headers={"Idempotency-Key": "edit-3"})
    worker.join(10)
    assert retried.status_code == 200, retried.text
    assert retried.json()["generation_id"] == gen_id
    assert generation_ids(http) == [gen_id]
