"""GET /api/ai/generations/{id}/lineage through the API: an edit whose input is one of the
key's own result links records its parent; a chain of three edits reads as a tree from any
of its nodes; another key sees none of it; a pruned middle keeps its place."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from fixtures.inprocess_app import OUTPUT, FakeWorker, png

from editserve.api.app import create_app
from editserve.core.settings import Settings
from editserve.services.keys import create_key

EDIT = "qwen-image-edit-plus"


class Api:
    def __init__(self, data_dir: Path) -> None:
        self.app = create_app(Settings(data_dir=data_dir))
        self.services = self.app.state.services
        self.client = TestClient(self.app)
        self.headers = {"Authorization": f"Bearer {create_key(self.services.store, 'a').secret}"}
        self.worker = FakeWorker(self.services.store)

    def edit(self, image: str, prompt: str) -> dict[str, Any]:
        """Enqueue an edit of image, run it to success; the finished generation's view."""
        body = {"model": EDIT, "prompt": prompt, "input_image": [image]}
        answer = self.client.post("/api/ai/queue", json=body, headers=self.headers)
        assert answer.status_code == 200, answer.text
        gen = self.worker.claim()
        self.worker.succeed(gen, self.services.storage, OUTPUT)
        view = self.client.get(f"/api/ai/queue/{gen.id}", headers=self.headers).json()
        assert view["status"] == "succeeded"
        return view  # type: ignore[no-any-return]

    def lineage(self, generation_id: str, headers: dict[str, str] | None = None) -> Any:
        return self.client.get(
            f"/api/ai/generations/{generation_id}/lineage", headers=headers or self.headers
        )


def test_a_chain_of_three_edits_is_a_tree_from_any_node(tmp_path: Path) -> None:
    api = Api(tmp_path)
    first = api.edit("data:image/png;base64," + base64.b64encode(png()).decode(), "a hat")
    second = api.edit(first["result_url"], "a red hat")
    third = api.edit(second["result_url"], "a red hat, smiling")
    branch = api.edit(first["result_url"], "a blue hat")

    answer = api.lineage(second["generation_id"])
    assert answer.status_code == 200, answer.text
    tree = answer.json()
    depths = {node["generation_id"]: node["depth"] for node in tree["nodes"]}
    assert depths == {first["generation_id"]: -1, second["generation_id"]: 0,
                      third["generation_id"]: 1}  # fmt: skip
    assert {(e["parent"], e["child"]) for e in tree["edges"]} == {
        (first["generation_id"], second["generation_id"]),
        (second["generation_id"], third["generation_id"]),
    }
    node = next(n for n in tree["nodes"] if n["generation_id"] == first["generation_id"])
    assert node["prompt"] == "a hat" and node["status"] == "succeeded" and node["result_url"]

    root = api.lineage(first["generation_id"]).json()
    children = {n["generation_id"] for n in root["nodes"] if n["depth"] == 1}
    assert children == {second["generation_id"], branch["generation_id"]}  # siblings

    other = {"Authorization": f"Bearer {create_key(api.services.store, 'b').secret}"}
    assert api.lineage(second["generation_id"], other).status_code == 404


def test_an_upload_or_a_plain_url_has_no_parent(tmp_path: Path) -> None:
    api = Api(tmp_path)
    first = api.edit("data:image/png;base64," + base64.b64encode(png()).decode(), "a hat")
    tree = api.lineage(first["generation_id"]).json()
    assert [n["generation_id"] for n in tree["nodes"]] == [first["generation_id"]]
    assert tree["edges"] == []


def test_a_pruned_middle_keeps_its_place(tmp_path: Path) -> None:
    api = Api(tmp_path)
    first = api.edit("data:image/png;base64," + base64.b64encode(png()).decode(), "a hat")
    second = api.edit(first["result_url"], "a red hat")
    third = api.edit(second["result_url"], "a red hat, smiling")
    store = api.services.store
    assert store.delete_generations([second["generation_id"]], cutoff=2e9)["generations"] == 1

    tree = api.lineage(third["generation_id"]).json()
    status = {node["generation_id"]: node["status"] for node in tree["nodes"]}
    assert status == {first["generation_id"]: "succeeded", second["generation_id"]: "pruned",
                      third["generation_id"]: "succeeded"}  # fmt: skip
