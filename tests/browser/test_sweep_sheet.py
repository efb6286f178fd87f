"""A sweep's contact sheet against a real server on tiny weights: a 2×2 sweep (seed × CFG)
submitted over the API shows, from one cell's result, as a grid of 2 rows × 2 columns whose
headers are the axes' values and whose every cell shows the result and the values of the
generation that ran with them (its receipt, read over the API). A cell opens on the stage;
"Reuse parameters" puts one cell's seed and CFG in the form, and Run then makes that cell
alone (no `sweep` in the request); two cells picked from a history card's sheet open in
History's compare view. A sweep of three axes draws one grid per value of the third (on a
phone, no text clipped).
Screenshot: docs/screenshots/contact-sheet.png."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.browser import PHONE, shot
from fixtures.support import LiveServer
from test_workbench import RUN_TIMEOUT_MS, connect, set_advanced, wait_succeeded
from test_workbench_layout import LAPTOP, assert_all_text_shown

from editserve.client import Client

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SEEDS = [11, 12]
CFGS = [2.5, 4.0]
SHEET = "dialog[data-testid=sweep]"
CELLS = """cells => cells.map((td) => ({
  id: td.dataset.id, index: Number(td.dataset.index), status: td.dataset.status,
  values: JSON.parse(td.dataset.values), label: td.querySelector('.sweep-label').textContent,
  src: td.querySelector('.sweep-thumb img')?.getAttribute('src') || null,
  loaded: !!td.querySelector('.sweep-thumb img')?.naturalWidth,
  asked: td.querySelector('.sweep-card').getAttribute('aria-current') === 'true',
  row: td.parentElement.rowIndex - 2, col: td.cellIndex - 1,
}))"""


@pytest.fixture(scope="module")
def sweep_key(live_server: LiveServer) -> str:
    """A key of its own: its history holds only this module's runs."""
    with Client(live_server.base_url, live_server.api_key, timeout=30) as admin:
        made = admin.admin.keys.create("browser-sweep")
    assert made.key is not None
    return made.key


def run_sweep(server: LiveServer, key: str, picture: Path) -> list[dict[str, Any]]:
    """Submit the 2×2 sweep over the queue; every cell's view once all have succeeded."""
    with Client(server.base_url, key, timeout=60) as client:
        cells = client.queue.submit(
            prompt="Put a hat on it", input_image=str(picture), num_inference_steps=2,
            negative_prompt="blurry", sweep={"seed": SEEDS, "true_cfg_scale": CFGS},
        )  # fmt: skip
    ids = [cell.generation_id for cell in cells]
    assert len(ids) == 4
    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000 * 2
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        while True:
            views = [
                http.get(f"/api/ai/queue/{i}", headers={"Authorization": f"Bearer {key}"}).json()
                for i in ids
            ]
            if all(v["status"] == "succeeded" for v in views):
                return views
            assert not [v for v in views if v["status"] in ("failed", "cancelled")], views
            assert time.monotonic() < deadline, [v["status"] for v in views]
            time.sleep(0.5)


def open_sheet(page: Any, opener: str) -> list[dict[str, Any]]:
    """Click opener, wait for the sheet's 4 cells with their pictures loaded; the cells."""
    page.click(opener)
    page.wait_for_function(
        f"""() => {{ const tds = document.querySelectorAll('{SHEET}[open] td.sweep-cell');
          return tds.length === 4 && [...tds].every((td) => td.dataset.status === 'succeeded'
            && td.querySelector('.sweep-thumb img')?.complete
            && td.querySelector('.sweep-thumb img').naturalWidth > 0); }}"""
    )
    return page.locator(f"{SHEET} td.sweep-cell").evaluate_all(CELLS)


def bare(url: str) -> str:
    return url.split("?")[0]


def test_a_2x2_sweep_shows_as_a_contact_sheet_matching_the_receipts(
    workbench: Any, live_server: LiveServer, sweep_key: str, pictures: list[Path]
) -> None:
    views = run_sweep(live_server, sweep_key, pictures[0])
    ids = [v["generation_id"] for v in views]
    assert all(v["sweep"]["generation_ids"] == ids for v in views)
    by_values = {(v["receipt"]["seed"], v["receipt"]["true_cfg_scale"]): v for v in views}
    assert sorted(by_values) == [(s, c) for s in SEEDS for c in CFGS]

    page, watch = workbench(viewport=LAPTOP)
    connect(page, live_server, sweep_key)
    asked = ids[1]
    page.click("#tab-history")
    page.click(f".hcard[data-id='{asked}'] .hcard-thumb")
    page.wait_for_selector(f"#stage[data-generation-id='{asked}'][data-state=succeeded]")

    cells = open_sheet(page, "#stage [data-testid=sweep-open]")
    assert f"GET /api/ai/queue/{ids[3]}" in watch.api_calls
    assert page.locator(f"{SHEET} table.sweep-grid").count() == 1
    assert page.locator(f"{SHEET} tbody tr").count() == 2
    cols = page.locator(f"{SHEET} th.sweep-col").evaluate_all(
        "ths => ths.map((th) => [th.dataset.axis, th.textContent])"
    )
    rows = page.locator(f"{SHEET} th.sweep-row").evaluate_all(
        "ths => ths.map((th) => [th.dataset.axis, th.textContent])"
    )
    assert [(a, float(t)) for a, t in cols] == [("true_cfg_scale", c) for c in CFGS]
    assert [(a, int(t)) for a, t in rows] == [("seed", s) for s in SEEDS]
    assert page.inner_text(f"{SHEET} h2") == "Contact sheet · 4 cells"

    # Each cell: the generation whose receipt ran with its row's seed and its column's CFG.
    assert sorted((c["row"], c["col"]) for c in cells) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for cell in cells:
        seed, cfg = SEEDS[cell["row"]], CFGS[cell["col"]]
        view = by_values[(seed, cfg)]
        assert cell["id"] == view["generation_id"], cell
        assert cell["index"] == ids.index(cell["id"]) == view["sweep"]["index"]
        assert cell["values"] == [seed, cfg]
        assert cell["label"] == f"seed {seed} · CFG {cfg:g}"
        assert cell["loaded"] and bare(cell["src"]) == bare(view["result_url"])
        assert cell["asked"] == (cell["id"] == asked)
    assert_all_text_shown(page, "contact sheet")
    shot(page, "contact-sheet")

    # A click on a cell opens its generation on the stage.
    other = by_values[(SEEDS[1], CFGS[0])]["generation_id"]
    page.click(f"{SHEET} td.sweep-cell[data-id='{other}'] .sweep-thumb")
    page.wait_for_selector(f"{SHEET}[open]", state="hidden")
    page.wait_for_selector(f"#stage[data-generation-id='{other}'][data-state=succeeded]")

    # "Reuse parameters": that cell's seed and CFG in the form; Run makes that cell alone.
    reused = by_values[(SEEDS[0], CFGS[1])]
    open_sheet(page, "#stage [data-testid=sweep-open]")
    page.click(
        f"{SHEET} td.sweep-cell[data-id='{reused['generation_id']}'] [data-testid=sweep-reuse]"
    )
    page.wait_for_selector(f"{SHEET}[open]", state="hidden")
    page.wait_for_function("() => document.querySelector('#f-seed')?.value === '11'")
    assert float(page.input_value("#f-true_cfg_scale")) == CFGS[1]
    # Restore also pins the output's size, which on this tiny server (64 px outputs) is under
    # the schema's minimum width: leave the size to the aspect ratio, as the sweep did.
    set_advanced(page, width="", height="")
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/api/ai/queue")
    ) as answer:
        page.click("#run-button")
    body = json.loads(answer.value.request.post_data or "{}")
    assert answer.value.ok, (answer.value.text(), body)
    assert "sweep" not in body and "num_generations" not in body
    assert (body["seed"], body["true_cfg_scale"]) == (SEEDS[0], CFGS[1])
    alone = wait_succeeded(page, previous=other)
    assert alone not in ids
    assert page.locator("#stage [data-testid=sweep-open]").count() == 0  # not a sweep's cell

    # From a history card's sheet: two cells side by side in History's compare view.
    page.click("#tab-history")
    open_sheet(page, f".hcard[data-id='{ids[0]}'] [data-testid=sweep-open]")
    for i in (0, 3):
        page.locator(f"{SHEET} td.sweep-cell[data-id='{ids[i]}'] .lnode-pick input").check()
    page.locator(SHEET).get_by_role("button", name="Compare (2)").click()
    page.locator(".diff-table").wait_for()
    assert page.is_hidden(SHEET)
    heads = page.locator(".diff-table thead th[scope=col]").all_inner_texts()
    assert heads == [f"A · {ids[0][:8]}", f"B · {ids[3][:8]}"]


# A detached SweepView for a made-up three-axis sweep (one cell still running): one grid per
# value of the third, at a phone's size.
THREE_AXES = """async () => {
  const { SweepView } = await import("./js/sweep.js");
  const axes = [{ axis: "seed", values: [1, 2] }, { axis: "true_cfg_scale", values: [2.5, 4] },
                { axis: "num_inference_steps", values: [2, 3] }];
  const ids = [...Array(8).keys()].map((i) => `cell-${i}`);
  const gen = (i) => ({ generation_id: ids[i], status: i === 7 ? "processing" : "succeeded",
    result_url: i === 7 ? null : document.querySelector("link[rel=icon]").href,
    sweep: { id: "s", index: i, cells: 8, axes, generation_ids: ids } });
  const view = new SweepView({ api: { generation: async (id) => gen(ids.indexOf(id)) } });
  view.open(gen(0));
  await new Promise((resolve) => setTimeout(resolve, 300));
  return [...view.dialog.querySelectorAll("table.sweep-grid")].map((table) => ({
    caption: table.querySelector("caption")?.textContent || "",
    cells: [...table.querySelectorAll("tbody tr")].map((tr) =>
      [...tr.querySelectorAll("td.sweep-cell")].map((td) => [td.dataset.id, td.dataset.status])),
  }));
}"""


def test_three_axes_make_one_grid_per_value_of_the_third(
    workbench: Any, live_server: LiveServer, sweep_key: str
) -> None:
    page, _ = workbench(viewport=PHONE, color_scheme="light", is_mobile=True, has_touch=True)
    connect(page, live_server, sweep_key)
    grids = page.evaluate(THREE_AXES)
    assert_all_text_shown(page, "contact sheet of three axes on a phone")
    assert [g["caption"] for g in grids] == ["num_inference_steps = 2", "num_inference_steps = 3"]
    # row-major over (seed, cfg, steps): the last axis fastest
    assert [[[c[0] for c in row] for row in g["cells"]] for g in grids] == [
        [["cell-0", "cell-2"], ["cell-4", "cell-6"]],
        [["cell-1", "cell-3"], ["cell-5", "cell-7"]],
    ]
    assert grids[1]["cells"][1][1][1] == "processing"
