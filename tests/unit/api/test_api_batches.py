"""/api/ai/batches through the API: a template over many pictures and a list of requests
are taken whole (each distinct picture fetched once), a bad item refuses the batch by
index and stores nothing, items run after interactive work, the record shows progress,
the manifest and the zip hold every item in order, a cancel takes what has not started."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fixtures.inprocess_app import OUTPUT, FakeWorker, png

from editserve.api.app import create_app
from editserve.core.settings import Settings
from editserve.services.keys import create_key

EDIT = "qwen-image-edit-plus"
PICTURE = "data:image/png;base64," + base64.b64encode(png()).decode()
OTHER = "data:image/png;base64," + base64.b64encode(png((9, 9, 200))).decode()


class Api:
    def __init__(self, data_dir: Path, **settings: Any) -> None:
        self.app = create_app(Settings(data_dir=data_dir, **settings))
        self.services = self.app.state.services
        self.client = TestClient(self.app)
        self.headers = {"Authorization": f"Bearer {create_key(self.services.store, 'a').secret}"}
        self.worker = FakeWorker(self.services.store)

    def post(self, body: Any, **kwargs: Any) -> Any:
        return self.client.post("/api/ai/batches", json=body, headers=self.headers, **kwargs)

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=self.headers)

    def run_one(self) -> Any:
        gen = self.worker.claim()
        assert gen is not None
        self.worker.succeed(gen, self.services.storage, OUTPUT)
        return gen


@pytest.fixture
def api(tmp_path: Path) -> Api:
    return Api(tmp_path)


def test_a_template_over_pictures_fetches_each_distinct_picture_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolver = api.services.generations.resolver()
    fetched: list[str] = []
    original = resolver.fetch

    async def counting(refs: list[str], *args: Any, **kwargs: Any) -> Any:
        fetched.extend(refs)
        return await original(refs, *args, **kwargs)

    monkeypatch.setattr(resolver, "fetch", counting)
    body = {
        "template": {"model": EDIT, "prompt": "on a white background"},
        "images": [PICTURE, OTHER, PICTURE, PICTURE, OTHER],
        "metadata": {"shoot": 7},
    }
    answer = api.post(body)
    assert answer.status_code == 201, answer.text
    batch = answer.json()
    assert batch["counts"] == {"total": 5, "queued": 5, "processing": 0, "succeeded": 0,
                               "failed": 0, "cancelled": 0}  # fmt: skip
    assert batch["status"] == "running" and batch["priority"] == -10
    assert batch["metadata"] == {"shoot": 7}
    assert sorted(fetched) == sorted([PICTURE, OTHER])  # two distinct pictures, once each


def test_a_bad_item_refuses_the_whole_batch_by_index(api: Api) -> None:
    items = [
        {"model": EDIT, "prompt": "ok", "input_image": [PICTURE]},
        {"model": EDIT, "prompt": "", "input_image": [PICTURE]},
        {"model": EDIT, "prompt": "ok", "input_image": [PICTURE], "num_inference_steps": 999},
        {"model": EDIT, "prompt": "ok", "input_image": ["data:image/png;base64,AAAA"]},
    ]
    answer = api.post({"requests": items})
    assert answer.status_code == 400
    detail = answer.json()["error"]["detail"]
    assert "requests[1].prompt" in detail and "requests[2].num_inference_steps" in detail
    assert "requests[0]" not in detail and "nothing was stored" in detail
    assert api.get("/api/ai/batches").json()["data"] == []
    assert api.services.store.count_interactive_active("x") == 0
    # a picture that is not an image is named by its item, after the fields pass
    answer = api.post({"requests": [items[0], items[3]]})
    assert answer.status_code == 400 and "requests[1].input_image[0]" in answer.text
    dup = api.post({"requests": [{**items[0], "custom_id": "a"}, {**items[0], "custom_id": "a"}]})
    assert dup.status_code == 400 and "requests[1].custom_id" in dup.text


def test_items_run_after_interactive_work_and_the_record_follows(api: Api) -> None:
    items = [{"model": EDIT, "prompt": f"p{n}", "input_image": [PICTURE], "custom_id": f"sku-{n}"}
             for n in range(3)]  # fmt: skip
    batch = api.post({"requests": items}).json()
    edit = {"model": EDIT, "prompt": "now", "input_image": [PICTURE]}
    queued = api.client.post("/api/ai/queue", json=edit, headers=api.headers)
    interactive = queued.json()["generations"][0]["generation_id"]
    assert api.run_one().id == interactive  # submitted after, runs first
    first = api.run_one()
    assert first.custom_id == "sku-0" and first.batch_ref == batch["id"]
    shown = api.get(f"/api/ai/batches/{batch['id']}").json()
    assert shown["counts"]["succeeded"] == 1 and shown["counts"]["queued"] == 2
    assert shown["progress"] == pytest.approx(1 / 3, abs=1e-3)
    api.run_one()
    api.run_one()
    done = api.get(f"/api/ai/batches/{batch['id']}").json()
    assert done["status"] == "completed" and done["finished_at"] is not None

    lines = [json.loads(line) for line in api.get(done["results_url"]).text.splitlines()]
    assert [(x["index"], x["custom_id"], x["status"]) for x in lines] == [
        (0, "sku-0", "succeeded"), (1, "sku-1", "succeeded"), (2, "sku-2", "succeeded"),
    ]  # fmt: skip
    assert all(x["result_url"] for x in lines)
    archive = zipfile.ZipFile(io.BytesIO(api.get(done["zip_url"]).content))
    names = archive.namelist()
    assert names == ["00000-sku-0.png", "00001-sku-1.png", "00002-sku-2.png", "manifest.jsonl"]
    assert archive.read("00001-sku-1.png") == OUTPUT
    inside = [json.loads(line) for line in archive.read("manifest.jsonl").splitlines()]
    assert [x["file"] for x in inside] == names[:3]


def test_a_cancel_takes_what_has_not_started(api: Api) -> None:
    items = [{"model": EDIT, "prompt": f"p{n}", "input_image": [PICTURE]} for n in range(4)]
    batch = api.post({"requests": items}).json()
    running = api.worker.claim()
    answer = api.client.delete(f"/api/ai/batches/{batch['id']}", headers=api.headers)
    assert answer.status_code == 200
    assert answer.json()["counts"]["cancelled"] == 3 and answer.json()["status"] == "running"
    api.worker.succeed(running, api.services.storage, OUTPUT)
    assert api.get(f"/api/ai/batches/{batch['id']}").json()["status"] == "cancelled"


def test_json_lines_with_options_in_the_query_and_a_replay(api: Api) -> None:
    lines = "\n".join(
        json.dumps({"model": EDIT, "prompt": f"p{n}", "input_image": [PICTURE]}) for n in range(2)
    )
    headers = {**api.headers, "Content-Type": "application/jsonl", "Idempotency-Key": "b-1"}
    first = api.client.post("/api/ai/batches?priority=-50", content=lines, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["priority"] == -50 and first.json()["counts"]["total"] == 2
    again = api.client.post("/api/ai/batches?priority=-50", content=lines, headers=headers)
    assert again.json()["id"] == first.json()["id"]  # the same batch, not a second
    assert len(api.get("/api/ai/batches").json()["data"]) == 1
    bad = api.client.post("/api/ai/batches?priority=5", content=lines,
                          headers={**api.headers, "Content-Type": "application/jsonl"})  # fmt: skip
    assert bad.status_code == 400 and "priority" in bad.json()["error"]["detail"]


def test_another_keys_batch_is_not_found(api: Api) -> None:
    batch = api.post({"template": {"model": EDIT, "prompt": "x"}, "images": [PICTURE]}).json()
    other = {"Authorization": f"Bearer {create_key(api.services.store, 'b').secret}"}
    assert api.client.get(f"/api/ai/batches/{batch['id']}", headers=other).status_code == 404
    assert api.client.get(batch["results_url"], headers=other).status_code == 404


def test_the_batch_completed_event_is_on_the_event_stream(api: Api) -> None:
    from editserve.api.routes.events import format_event

    batch = api.post({"template": {"model": EDIT, "prompt": "x"}, "images": [PICTURE]}).json()
    api.run_one()
    owner = api.services.store.get_batch(batch["id"]).owner
    [event] = [e for e in api.services.store.events_after(owner, 0) if e.type == "batch.completed"]
    text = format_event(event, lambda key: key)
    assert text.startswith(f"id: {event.id}\nevent: batch.completed\ndata: ")
    data = json.loads(text.split("data: ", 1)[1])
    assert data == {"batch_id": batch["id"], "status": "completed", "total": 1, "succeeded": 1,
                    "failed": 0, "cancelled": 0}  # fmt: skip
