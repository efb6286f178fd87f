"""The workbench's model picker, LoRA rows and exact size, in headless Chromium against a
real `editserve serve` serving two models on tiny weights with a LoRA folder.

A LoRA is picked from the card's list, its scale set with the slider, width/height set
under Advanced; the run's receipt names the LoRA and the output has the exact size; the
API tab's snippets carry the same fields; a pasted LoRA that does not exist is shown on
the LoRA field. Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fixtures.browser import shot
from fixtures.support import LiveServer, start_server, stop_server
from test_workbench import (
    add_pictures,
    connect,
    copy_snippet,
    run,
    run_snippet,
    scroll_top,
    set_advanced,
)

from editserve.models.qwen_image_edit.tiny.build import build_tiny_lora

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TWO_MODELS = "qwen-image-edit-plus,qwen-image-edit-2511"


@pytest.fixture(scope="module")
def lora_server(
    tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path
) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("loras")
    build_tiny_lora(tiny_weights, folder / "film-look.safetensors", scale=2.0)
    build_tiny_lora(tiny_weights, folder / "relight.safetensors", scale=2.0, seed=3)
    server = start_server(
        tmp_path_factory.mktemp("lora-server"),
        EDITSERVE_LORA_DIR=str(folder),
        EDITSERVE_MODELS=TWO_MODELS,
        EDITSERVE_EXACT_SIZE_MIN_SIDE="32",
    )
    try:
        yield server
    finally:
        stop_server(server.process)


@pytest.fixture
def lora_page(browser: object, lora_server: LiveServer) -> Iterator[object]:
    from fixtures.browser import open_context

    context, watch = open_context(browser, lora_server)
    page = context.new_page()  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    yield page
    context.close()  # type: ignore[attr-defined]
    watch.check()


def test_model_picker_lora_rows_and_exact_size(
    lora_page, lora_server: LiveServer, pictures: list[Path], tmp_path: Path
) -> None:
    page = lora_page
    connect(page, lora_server, lora_server.api_key)
    # the picker lists both served models; the LoRA field lists the folder's LoRAs
    options = page.eval_on_selector_all("#model-select option", "els => els.map(e => e.value)")
    assert options == TWO_MODELS.split(",")
    page.select_option("#model-select", "qwen-image-edit-2511")
    page.wait_for_selector("[data-field=loras] [data-testid=lora-add]")
    listed = page.eval_on_selector_all(
        "datalist[id^=lora-options] option", "els => els.map(e => e.value)"
    )
    assert listed == ["film-look", "relight"]
    add_pictures(page, pictures[:1])
    page.fill("#f-prompt", "warm film look")
    page.click("[data-testid=lora-add]")
    row = page.locator("[data-testid=lora-row]").first
    assert row.locator(".lora-path").input_value() == "film-look"  # the first of the list
    row.locator("[data-testid=lora-scale]").fill("1.5")  # the slider
    assert row.locator(".lora-scale-num").input_value() == "1.5"
    set_advanced(page, width=96, height=64, num_inference_steps=2)
    scroll_top(page)
    page.locator("[data-field=loras]").scroll_into_view_if_needed()
    shot(page, "workbench-loras")
    gen_id = run(page)
    record = httpx.get(
        f"{lora_server.base_url}/api/ai/queue/{gen_id}",
        headers={"Authorization": f"Bearer {lora_server.api_key}"},
    ).json()
    assert record["model_name"] == "qwen-image-edit-2511"
    assert (record["width"], record["height"]) == (96, 64)
    [lora] = record["receipt"]["loras"]
    assert lora["path"] == "film-look" and lora["scale"] == 1.5 and len(lora["sha256"]) == 64
    # the API tab's snippets carry the model, the LoRA and the size
    page.click("#tab-api")
    page.wait_for_selector("pre.code[data-snippet=curl-sync]")
    body = json.loads(copy_snippet(page, "json"))
    assert body["model"] == "qwen-image-edit-2511"
    assert body["loras"] == [{"path": "film-look", "scale": 1.5}]
    assert (body["width"], body["height"]) == (96, 64)
    client_snippet = copy_snippet(page, "python-client")
    assert "loras=[" in client_snippet
    shot(page, "workbench-loras-api")
    # pasted as they are, they run with the LoRA
    curl = run_snippet(copy_snippet(page, "curl-sync"), lora_server.api_key, tmp_path)
    assert curl.returncode == 0 and json.loads(curl.stdout)["width"] == 96, (
        curl.stdout + curl.stderr
    )
    done = run_snippet(client_snippet, lora_server.api_key, tmp_path, python=True)
    assert done.returncode == 0, done.stderr


def test_a_pasted_lora_that_is_not_there_is_shown_on_its_row(
    lora_page, lora_server: LiveServer, pictures: list[Path]
) -> None:
    page = lora_page
    connect(page, lora_server, lora_server.api_key)
    add_pictures(page, pictures[:1])
    page.fill("#f-prompt", "relight")
    page.click("[data-testid=lora-add]")
    page.click("[data-testid=lora-add]")
    rows = page.locator("[data-testid=lora-row]")
    rows.nth(1).locator(".lora-path").fill("owner/repo/missing.safetensors")
    page.click("#run-button")
    error = page.locator("[data-field=loras] .field-error")
    error.wait_for(state="visible")
    error.scroll_into_view_if_needed()
    assert "LoRA 2: LoRA 'owner/repo/missing.safetensors' cannot be used" in error.inner_text()
    shot(page, "workbench-lora-error")
    # removing the row clears it; three rows at most
    rows.nth(1).locator("button[aria-label='Remove this LoRA']").click()
    page.click("[data-testid=lora-add]")
    page.click("[data-testid=lora-add]")
    assert rows.count() == 3 and page.locator("[data-testid=lora-add]").is_hidden()


def test_lora_rows_at_phone_width(browser: object, lora_server: LiveServer) -> None:
    from fixtures.browser import PHONE, open_context

    context, watch = open_context(browser, lora_server, viewport=PHONE, color_scheme="light")
    page = context.new_page()  # type: ignore[attr-defined]
    try:
        connect(page, lora_server, lora_server.api_key)
        page.click("[data-testid=lora-add]")
        row = page.locator("[data-testid=lora-row]").first
        row.scroll_into_view_if_needed()
        path, scale = (
            row.locator(".lora-path").bounding_box(),
            row.locator(".lora-scale-num").bounding_box(),
        )
        assert path and scale and scale["y"] >= path["y"] + path["height"]  # the slider wraps below
        assert scale["x"] + scale["width"] <= PHONE["width"]  # nothing runs off the screen
        shot(page, "phone-loras")
    finally:
        context.close()  # type: ignore[attr-defined]
    watch.check()
