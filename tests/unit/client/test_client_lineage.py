"""``client.generations.lineage`` and ``editserve lineage`` against a mock server: the request
sent, the typed tree (parents, children, siblings, root, a pruned middle), the 404 of
another key's generation, and the CLI's indented tree and JSON."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from test_client_admin import Server

from editserve.client import AsyncClient, Client, Lineage, NotFoundError, commands
from editserve.commands.main import main

A, B, C, D = (f"{n}" * 8 + "-0000-4000-8000-" + f"{n}" * 12 for n in "abcd")


def node(gen_id: str, depth: int, prompt: str | None, when: int | None, **extra: Any) -> Any:
    pruned = extra.get("status") == "pruned"
    return {
        "generation_id": gen_id,
        "depth": depth,
        "status": extra.get("status", "succeeded"),
        "model_name": None if pruned else "qwen-image-edit-plus",
        "prompt": prompt,
        "result_url": None if pruned else f"http://server/files/outputs/{gen_id}.png?sig=x",
        "enqueued_at": when,
        "completed_at": None if when is None else when + 5,
    }


# Asked from B: its parent A, its children C and D (D made after C); A → B → C and B → D.
TREE = {
    "generation_id": B,
    "nodes": [
        node(A, -1, "a hat", 100),
        node(B, 0, "a red hat", 200),
        node(D, 1, "a red hat, frowning", 400),
        node(C, 1, "a red hat, smiling", 300),
    ],
    "edges": [{"parent": A, "child": B}, {"parent": B, "child": C}, {"parent": B, "child": D}],
}
# Asked from C, with its parent B pruned: A → B (pruned) → C.
PRUNED = {
    "generation_id": C,
    "nodes": [
        node(A, -2, "a hat", 100),
        node(B, -1, None, None, status="pruned"),
        node(C, 0, "a red hat, smiling", 300),
    ],
    "edges": [{"parent": A, "child": B}, {"parent": B, "child": C}],
}
NOT_FOUND = {
    "error": {"type": "not_found", "title": "Not Found", "detail": f"Generation not found: {D}"},
    "status": "error",
}


def path(gen_id: str) -> tuple[str, str]:
    return ("GET", f"/api/ai/generations/{gen_id}/lineage")


def client_for(server: Server) -> Client:
    return Client("http://server", "es_test", transport=httpx.MockTransport(server))


def ids(nodes: Any) -> list[str]:
    return [n.generation_id for n in nodes]


def test_lineage_reads_the_tree_and_answers_who_is_whose() -> None:
    server = Server({path(B): httpx.Response(200, json=TREE)})
    tree = client_for(server).generations.lineage(B)
    assert server.last.url.path == f"/api/ai/generations/{B}/lineage"
    assert server.last.headers["authorization"] == "Bearer es_test"
    assert isinstance(tree, Lineage) and tree.raw == TREE
    assert tree.generation_id == B and len(tree) == 4 and C in tree and "x" not in tree
    assert tree.current.prompt == "a red hat" and tree.current.depth == 0
    assert ids(tree.parents_of(B)) == [A] and tree.parents_of(A) == []
    assert ids(tree.children_of(B)) == [C, D]  # oldest first, whatever the server's order
    assert ids(tree.siblings_of(C)) == [D] and tree.siblings_of(A) == []
    assert tree.root.generation_id == A and ids(tree.roots) == [A]
    assert ids(tree.ancestors) == [A] and ids(tree.descendants) == [D, C]
    assert [(level, n.generation_id) for level, n in tree.walk()] == [
        (0, A),
        (1, B),
        (2, C),
        (2, D),
    ]
    first = tree.node(A)
    assert (first.status, first.model_name, first.enqueued_at, first.completed_at) == (
        "succeeded", "qwen-image-edit-plus", 100, 105)  # fmt: skip
    assert first.image is not None and first.image.url == TREE["nodes"][0]["result_url"]
    assert first.image.generation_id == A and not first.pruned
    with pytest.raises(KeyError):
        tree.node("nope")


def test_a_pruned_middle_keeps_its_place() -> None:
    server = Server({path(C): httpx.Response(200, json=PRUNED)})
    tree = client_for(server).generations.lineage(C)
    middle = tree.node(B)
    assert middle.pruned and middle.status == "pruned" and middle.depth == -1
    assert middle.prompt is None and middle.image is None and middle.enqueued_at is None
    assert ids(tree.ancestors) == [B, A]  # nearest first
    assert tree.root.generation_id == A and ids(tree.parents_of(C)) == [B]
    assert [n.generation_id for _, n in tree.walk()] == [A, B, C]


def test_a_generation_without_relatives_is_its_own_root() -> None:
    alone = {"generation_id": A, "nodes": [node(A, 0, "a hat", 100)], "edges": []}
    tree = client_for(Server({path(A): httpx.Response(200, json=alone)})).generations.lineage(A)
    assert tree.root is tree.current and tree.edges == [] and list(tree.walk()) == [(0, tree.root)]


def test_another_keys_generation_is_not_found() -> None:
    server = Server({path(D): httpx.Response(404, json=NOT_FOUND)})
    with pytest.raises(NotFoundError, match="Generation not found"):
        client_for(server).generations.lineage(D)


def test_the_async_client_reads_it_too() -> None:
    server = Server({path(B): httpx.Response(200, json=TREE)})

    async def go() -> Lineage:
        async with AsyncClient(
            "http://server", "es_test", transport=httpx.MockTransport(server)
        ) as client:
            return await client.generations.lineage(B)

    tree = asyncio.run(go())
    assert ids(tree.children_of(B)) == [C, D] and tree.root.generation_id == A


# --- the CLI -------------------------------------------------------------------------------


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Server:
    server = Server({})

    def factory(url: str | None, api_key: str | None, **kwargs: Any) -> Client:
        transport = httpx.MockTransport(server)
        return Client(url or "http://server", api_key or "es_test", transport=transport, **kwargs)

    monkeypatch.setattr(commands, "client_factory", factory)
    return server


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_prints_the_tree_indented_with_the_asked_one_marked(server: Server) -> None:
    server.answers[path(B)] = httpx.Response(200, json=TREE)
    result = run("lineage", B)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{A}  succeeded  a hat",
        f"└── {B}  succeeded  a red hat  ◀ asked",
        f"    ├── {C}  succeeded  a red hat, smiling",
        f"    └── {D}  succeeded  a red hat, frowning",
    ]


def test_cli_shows_a_pruned_node_and_the_whole_tree_on_request(server: Server) -> None:
    server.answers[path(C)] = httpx.Response(200, json=PRUNED)
    result = run("lineage", C)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{A}  succeeded  a hat",
        f"└── {B}  pruned",
        f"    └── {C}  succeeded  a red hat, smiling  ◀ asked",
    ]

    # --whole: the root's tree, where the asked one's siblings are too
    server.answers[path(C)] = httpx.Response(200, json={**TREE, "generation_id": C})
    whole = {**TREE, "generation_id": A}
    whole["nodes"] = [{**n, "depth": n["depth"] + 1} for n in TREE["nodes"]]
    server.answers[path(A)] = httpx.Response(200, json=whole)
    result = run("lineage", C, "--whole")
    assert result.exit_code == 0, result.output
    assert [r.url.path for r in server.requests[-2:]] == [path(C)[1], path(A)[1]]
    assert result.output.splitlines()[2] == f"    ├── {C}  succeeded  a red hat, smiling  ◀ asked"


def test_cli_json_prints_the_answer_and_a_404_exits_3(server: Server) -> None:
    server.answers[path(B)] = httpx.Response(200, json=TREE)
    result = run("lineage", B, "--json")
    assert result.exit_code == 0 and json.loads(result.output) == TREE

    server.answers[path(D)] = httpx.Response(404, json=NOT_FOUND)
    result = run("lineage", D)
    assert result.exit_code == 3 and "Generation not found" in result.output
