"""The control panel: a canny control made from Picture 1 in the workbench, its map
previewed before running (POST /api/ai/images/control-map), the edit run on the tiny
model, the map the model saw shown with the result and on the history card, "Restore
parameters" putting the control back into the panel, and "Use as picture" turning the
map into an ordinary input picture. The API tab's snippets carry `control` as an object
and run as pasted.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fixtures.browser import PHONE, shot
from fixtures.support import LiveServer
from test_workbench import add_pictures, connect, copy_snippet, run_snippet, wait_succeeded
from test_workbench_layout import FIND_HIDDEN_TEXT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LAPTOP = {"width": 1400, "height": 900}
WIDTH, HEIGHT = 480, 360  # Picture 1 (fixtures.pictures.landscape)
MAP_TIMEOUT_MS = 120_000  # a control-map job on a loaded machine


# --- steps ------------------------------------------------------------------------------------


def set_canny_from_picture_1(page, low_threshold: int = 50) -> None:
    page.select_option("#f-control-type", "canny")
    page.click(".control-picks button:has-text('Picture 1')")
    page.fill("#f-control-low_threshold", str(low_threshold))
    page.wait_for_selector(".control-panel[data-state=set]")


def preview_map(page) -> None:
    page.click("[data-testid=control-preview]")
    # computing: the button is disabled until the map (or an error) is back
    page.wait_for_selector("[data-testid=control-preview]:not([disabled])", timeout=MAP_TIMEOUT_MS)
    page.wait_for_function(
        "() => { const img = document.querySelector('[data-testid=control-map]');"
        " return img && img.checkVisibility() && img.complete && img.naturalWidth > 0; }",
        timeout=MAP_TIMEOUT_MS,
    )


def note(page) -> str:
    return page.text_content("[data-testid=control-note]") or ""


def json_body(page) -> dict:
    page.click("#tab-api")
    page.click("[data-snippet=json]")
    body = json.loads(page.text_content("pre.code"))
    page.click("#tab-playground")
    return body


def get_generation(server: LiveServer, key: str, gen_id: str) -> dict:
    response = httpx.get(
        f"{server.base_url}/api/ai/queue/{gen_id}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def assert_no_hidden_text(page) -> None:
    problems = page.evaluate(FIND_HIDDEN_TEXT)
    assert not problems, "\n".join(problems)


# --- tests ------------------------------------------------------------------------------------


def test_set_a_canny_control_preview_run_restore_and_use_as_picture(
    workbench, live_server: LiveServer, browser_key: str, pictures: list[Path]
) -> None:
    page, watch = workbench(viewport=LAPTOP)
    connect(page, live_server, browser_key)
    page.fill("#f-prompt", "A snowy winter hill with the outlines of Picture 2")
    add_pictures(page, pictures[:1])
    # No control by default: nothing is sent.
    assert page.input_value("#f-control-type") == ""
    assert "control" not in json_body(page)

    set_canny_from_picture_1(page)
    assert "Picture 2" in note(page)
    body = json_body(page)
    assert body["control"] == {
        "type": "canny",
        "image": body["input_image"][0],  # Picture 1's upload URL
        "preprocess": True,
        "low_threshold": 50,
    }
    assert body["control"]["image"].startswith(f"{live_server.base_url}/api/ai/uploads/upl_")

    # Preview: the map computed alone, its size the picture's.
    preview_map(page)
    size = page.evaluate(
        "() => { const img = document.querySelector('[data-testid=control-map]');"
        " return [img.naturalWidth, img.naturalHeight]; }"
    )
    assert size == [WIDTH, HEIGHT]
    assert f"{WIDTH}×{HEIGHT}" in page.text_content(".control-map figcaption")
    assert_no_hidden_text(page)
    page.evaluate(
        "() => { document.querySelector('[data-field=control]').scrollIntoView({ block: 'start' });"
        " window.scrollTo(0, 0); document.activeElement?.blur(); }"
    )
    shot(page, "control-panel")

    # Run it: the generation used a canny map (its link is control_map_url).
    page.click("#run-button")
    gen_id = wait_succeeded(page)
    gen = get_generation(live_server, browser_key, gen_id)
    assert gen["control_map_url"]
    assert gen["receipt"]["control_type"] == "canny"
    assert gen["control"]["type"] == "canny" and gen["control"]["low_threshold"] == 50
    chip = page.locator("#stage [data-testid=control-thumb]")
    assert chip.inner_text().strip() == "map (canny)"
    assert chip.locator("img").get_attribute("src") == gen["control_map_url"]
    # Before / after offers Picture 1 only (the control's picture is not an input picture).
    page.click("#stage button:has-text('Before / after')")
    assert page.locator(".ba-picker").count() == 0
    page.click("#stage button:has-text('Before / after')")

    # Control off; then the history card shows the map, and Restore brings it back.
    page.select_option("#f-control-type", "")
    assert "control" not in json_body(page)
    page.click("#tab-history")
    card = page.locator(f".hcard[data-id='{gen_id}']")
    card.wait_for()
    assert card.locator("[data-testid=control-thumb]").inner_text().strip() == "map (canny)"
    card.get_by_role("button", name="Restore").click()
    page.wait_for_selector("#view-playground:not([hidden])")
    assert page.input_value("#f-control-type") == "canny"
    assert page.input_value("#f-control-low_threshold") == "50"
    assert json_body(page)["control"] == gen["control"]

    # Use as picture: the (cached) map becomes Picture 2, an ordinary picture; no control.
    preview_map(page)
    assert "computed before" in page.text_content(".control-map figcaption")
    page.click("[data-testid=control-use]")
    page.wait_for_function(
        "() => document.querySelectorAll('.tile[data-status=ready]').length === 2"
    )
    assert page.input_value("#f-control-type") == ""
    body = json_body(page)
    assert "control" not in body and len(body["input_image"]) == 2
    assert body["input_image"][1].split("?")[0].endswith(".png")
    assert not watch.errors


def test_the_picture_budget_and_the_snippets_with_a_control(
    workbench, live_server: LiveServer, browser_key: str, pictures: list[Path], tmp_path: Path
) -> None:
    page, _ = workbench(viewport=LAPTOP)
    connect(page, live_server, browser_key)
    page.fill("#f-prompt", "The mug of Picture 2 with the outlines of Picture 3")
    add_pictures(page, pictures)
    set_canny_from_picture_1(page, low_threshold=60)
    assert "Picture 3" in note(page)
    # A third picture leaves no room for the map: the note warns, Run is refused here.
    add_pictures(page, pictures[:1])
    assert "Picture 4" in note(page) and "at most 3" in note(page)
    assert page.get_attribute("[data-testid=control-note]", "data-kind") == "warn"
    page.click("#run-button")
    page.wait_for_selector("[data-field=control].invalid")
    page.click(".tile:nth-child(3) [data-remove]")
    assert "Picture 3" in note(page)
    assert page.get_attribute("[data-testid=control-note]", "data-kind") == ""

    # cURL sync and editserve's client carry `control` as an object and run as pasted.
    page.click("#tab-api")
    text = copy_snippet(page, "curl-sync")
    assert '"control": {' in text and '"type": "canny"' in text and '"low_threshold": 60' in text
    done = run_snippet(text, browser_key, tmp_path)
    assert done.returncode == 0, done.stderr
    gen = get_generation(live_server, browser_key, json.loads(done.stdout)["generation_id"])
    assert gen["receipt"]["control_type"] == "canny" and gen["control_map_url"]

    text = copy_snippet(page, "python-client")
    assert "control={" in text and '"type": "canny"' in text
    done = run_snippet(text, browser_key, tmp_path, python=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "edited.png").exists()
    # OpenAI's multipart form has no objects: that snippet says so instead.
    assert "control is not sent here" in copy_snippet(page, "python-openai")


def test_the_control_panel_on_a_phone(
    workbench, live_server: LiveServer, browser_key: str, pictures: list[Path]
) -> None:
    page, _ = workbench(viewport=PHONE, is_mobile=True, has_touch=True)
    connect(page, live_server, browser_key)
    add_pictures(page, pictures[:1])
    set_canny_from_picture_1(page)
    page.locator(".control-panel").scroll_into_view_if_needed()
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert_no_hidden_text(page)
