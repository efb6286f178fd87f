"""The workbench's edit tree against a real server on tiny weights: a chain of three edits
(each of the previous result, through "Use as input") shows as a tree of three nodes from
the last result; "Branch from here" on the first makes its result Picture 1, and the branch
run becomes the chain's sibling, which the tree compares with it in History's compare view.
No text of the tree is clipped, at a laptop's size and at a phone's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.browser import PHONE
from fixtures.support import LiveServer
from test_workbench import connect, set_advanced, wait_succeeded
from test_workbench_layout import LAPTOP, assert_all_text_shown

from editserve.client import Client

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROMPTS = ["Put a hat on it", "Make the hat red", "Make the red hat shine"]
BRANCH = "Make the hat blue"
TREE = "dialog[data-testid=lineage]"


@pytest.fixture(scope="module")
def lineage_key(live_server: LiveServer) -> str:
    """A key of its own: its history and trees hold only this module's runs."""
    with Client(live_server.base_url, live_server.api_key, timeout=30) as admin:
        made = admin.admin.keys.create("browser-lineage")
    assert made.key is not None
    return made.key


def edit(page: Any, prompt: str, previous: str | None) -> str:
    page.fill("#f-prompt", prompt)
    page.click("#run-button")
    return wait_succeeded(page, previous=previous)


def use_result_as_picture_1(page: Any, generation_id: str) -> None:
    page.click("#stage details.menu > summary")
    page.click("text=Replace the inputs")
    wait_picture_1(page, generation_id)


def wait_picture_1(page: Any, generation_id: str) -> str:
    """Wait for the form's only picture to be generation_id's result; its thumbnail URL."""
    page.wait_for_function(
        "() => { const tiles = document.querySelectorAll('.tile[data-id]');"
        " return tiles.length === 1 && tiles[0].dataset.status === 'ready'; }"
    )
    assert page.get_attribute(".tile[data-id]", "title").startswith(f"output-{generation_id[:8]}")
    return page.get_attribute(".tile[data-id] img", "src")


def open_tree(page: Any, opener: str, count: int) -> list[dict[str, Any]]:
    """Click opener, wait for the tree's count nodes; each node's id, level, prompt, ..."""
    page.click(opener)
    page.wait_for_function(
        f"n => document.querySelectorAll('{TREE}[open] .lnode').length === n", arg=count
    )
    return page.locator(f"{TREE} .lnode").evaluate_all(
        """nodes => nodes.map((li) => ({
          id: li.dataset.id, level: Number(li.dataset.level), status: li.dataset.status,
          prompt: li.querySelector('.lnode-prompt').textContent,
          asked: li.querySelector('.lnode-card').getAttribute('aria-current') === 'true',
          src: li.querySelector('.lnode-thumb img')?.getAttribute('src') || null,
        }))"""
    )


def test_a_chain_of_three_edits_shows_as_a_tree_to_branch_from_and_compare(
    workbench: Any, live_server: LiveServer, lineage_key: str, pictures: list[Path]
) -> None:
    page, watch = workbench(viewport=LAPTOP)
    connect(page, live_server, lineage_key)
    with page.expect_file_chooser() as chooser:
        page.click(".tile-add-btn")
    chooser.value.set_files([str(pictures[0])])
    page.wait_for_selector(".tile[data-status=ready]")
    set_advanced(page, num_inference_steps=2)

    chain: list[str] = []
    for prompt in PROMPTS:
        if chain:
            use_result_as_picture_1(page, chain[-1])
        chain.append(edit(page, prompt, chain[-1] if chain else None))

    # From the last result: three nodes, root first, each under the one it was made from.
    nodes = open_tree(page, "#stage [data-testid=lineage-open]", 3)
    assert "GET /api/ai/generations/" + chain[-1] + "/lineage" in watch.api_calls
    assert [n["id"] for n in nodes] == chain
    assert [n["level"] for n in nodes] == [0, 1, 2]
    assert [n["prompt"] for n in nodes] == PROMPTS
    assert [n["asked"] for n in nodes] == [False, False, True]
    assert all(n["status"] == "succeeded" and n["src"] for n in nodes)
    assert page.inner_text(f"{TREE} h2") == "Edit tree · 3 runs"
    assert_all_text_shown(page, "edit tree")

    # "Branch from here" on the first: its result is Picture 1 of a new edit.
    page.locator(f"{TREE} .lnode[data-id='{chain[0]}'] [data-testid=lineage-branch]").click()
    page.wait_for_selector(f"{TREE}[open]", state="hidden")
    assert wait_picture_1(page, chain[0]) == nodes[0]["src"]
    branch = edit(page, BRANCH, chain[-1])
    with httpx.Client(base_url=live_server.base_url, timeout=30) as http:
        answer = http.get(
            f"/api/ai/generations/{branch}/lineage",
            headers={"Authorization": f"Bearer {lineage_key}"},
        ).json()
    assert answer["edges"] == [{"parent": chain[0], "child": branch}]

    # From the branch's history card: the whole tree (asked of the root), the branch a
    # sibling of the chain's second run; the two compared side by side.
    page.click("#tab-history")
    nodes = open_tree(page, f".hcard[data-id='{branch}'] [data-testid=lineage-open]", 4)
    assert [(n["id"], n["level"]) for n in nodes] == [
        (chain[0], 0), (chain[1], 1), (chain[2], 2), (branch, 1)]  # fmt: skip
    assert [n["asked"] for n in nodes] == [False, False, False, True]
    for sibling in (chain[1], branch):
        page.locator(f"{TREE} .lnode[data-id='{sibling}'] .lnode-pick input").check()
    page.locator(TREE).get_by_role("button", name="Compare (2)").click()
    page.locator(".diff-table").wait_for()
    assert page.is_hidden(TREE)
    heads = page.locator(".diff-table thead th[scope=col]").all_inner_texts()
    assert heads == [f"A · {chain[1][:8]}", f"B · {branch[:8]}"]
    assert "Comparing 2 runs" in page.inner_text(".compare h2")

    # At a phone's size, the tree (opened from a history card) keeps every text whole.
    phone, _ = workbench(viewport=PHONE, color_scheme="light", is_mobile=True, has_touch=True)
    connect(phone, live_server, lineage_key)
    phone.click("#tab-history")
    assert_all_text_shown(phone, "history with edit-tree links")
    nodes = open_tree(phone, f".hcard[data-id='{chain[2]}'] [data-testid=lineage-open]", 4)
    assert [n["id"] for n in nodes] == [chain[0], chain[1], chain[2], branch]
    assert_all_text_shown(phone, "edit tree on a phone")


# The edit tree of a detached LineageView, for a made-up answer with a pruned middle (a live
# server's prune would delete other tests' runs): what each node shows.
PRUNED_TREE = """async () => {
  const { LineageView } = await import("./js/lineage.js");
  const png = document.querySelector("link[rel=icon]").href;
  const node = (id, depth, status, prompt, at) => ({ generation_id: id, depth, status,
    model_name: status === "pruned" ? null : "qwen-image-edit-plus", prompt,
    result_url: status === "pruned" ? null : png, enqueued_at: at, completed_at: at });
  const tree = {
    generation_id: "c", edges: [{ parent: "a", child: "b" }, { parent: "b", child: "c" }],
    nodes: [node("a", -2, "succeeded", "Put a hat on it", 1e9),
            node("b", -1, "pruned", null, null), node("c", 0, "succeeded", "Shine", 2e9)],
  };
  const view = new LineageView({ api: { lineage: async () => tree } });
  await view.open("c");
  return [...view.dialog.querySelectorAll(".lnode")].map((li) => ({
    id: li.dataset.id, level: li.dataset.level, status: li.dataset.status,
    text: li.querySelector(".lnode-prompt").textContent,
    pill: li.querySelector(".status-pill").textContent,
    thumb: !!li.querySelector(".lnode-thumb img"),
    actions: li.querySelectorAll(".lnode-actions button, .lnode-actions input").length,
  }));
}"""


def test_a_pruned_middle_keeps_its_place_greyed(
    workbench: Any, live_server: LiveServer, lineage_key: str
) -> None:
    page, _ = workbench(viewport=PHONE, color_scheme="light", is_mobile=True, has_touch=True)
    connect(page, live_server, lineage_key)
    nodes = page.evaluate(PRUNED_TREE)
    assert [(n["id"], n["level"], n["status"]) for n in nodes] == [
        ("a", "0", "succeeded"), ("b", "1", "pruned"), ("c", "2", "succeeded")]  # fmt: skip
    pruned = nodes[1]
    assert pruned["pill"] == "Pruned" and "Pruned" in pruned["text"]
    assert not pruned["thumb"] and pruned["actions"] == 0
    assert nodes[0]["thumb"] and nodes[0]["actions"] == 2  # Branch from here, Compare
    assert_all_text_shown(page, "edit tree with a pruned node")
