"""The workbench with qwen-image-layered (tiny weights) beside an edit model: a finished
layered run shows its stack of layers composited over a checkerboard, a list of the layers
each with a show/hide toggle, and "Download all", one stored zip of every layer. Before /
after is not offered (the stack replaces it). Screenshot: docs/screenshots/layers.png."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.browser import open_context, shot
from fixtures.support import LiveServer, start_server, stop_server
from test_workbench import add_pictures, connect, set_advanced, wait_succeeded
from test_workbench_generate import pick
from test_workbench_layout import assert_all_text_shown

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODELS = "qwen-image-edit-plus,qwen-image-layered"


@pytest.fixture(scope="module")
def layered_server(
    tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path
) -> Iterator[LiveServer]:
    server = start_server(
        tmp_path_factory.mktemp("layered-workbench"),
        EDITSERVE_MODELS=MODELS,
        EDITSERVE_MODEL_SWAP_AFTER_SECONDS="0",
    )
    try:
        yield server
    finally:
        stop_server(server.process)


@pytest.fixture
def page(browser: object, layered_server: LiveServer) -> Iterator[object]:
    context, watch = open_context(browser, layered_server)
    page = context.new_page()  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    yield page
    context.close()  # type: ignore[attr-defined]
    watch.check()


def visible_layers(page) -> list[str]:
    return page.eval_on_selector_all(
        "[data-testid=layer-stack] img",
        "els => els.filter(e => !e.hidden && getComputedStyle(e).display !== 'none')"
        ".map(e => e.dataset.layer)",
    )


def test_a_layered_run_shows_its_layers_with_toggles_and_downloads_them_all(
    page, layered_server: LiveServer, pictures: list[Path]
) -> None:
    connect(page, layered_server, layered_server.api_key)
    pick(page, "qwen-image-layered")
    page.fill("#f-prompt", "a red poster")
    add_pictures(page, pictures[:1])
    set_advanced(page, layers=3, num_inference_steps=2)
    page.click("#run-button")
    wait_succeeded(page)

    items = page.locator("[data-testid=layer-item]")
    items.first.wait_for()
    assert items.count() == 3
    assert sorted(items.all_inner_texts()) == ["Layer 1", "Layer 2", "Layer 3"]
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=layer-stack] img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    assert visible_layers(page) == ["1", "2", "3"]
    assert page.get_by_role("button", name="Before / after").count() == 0
    assert_all_text_shown(page, "layered result")
    shot(page, "layers")

    page.get_by_role("checkbox", name="Show layer 2").uncheck()
    assert visible_layers(page) == ["1", "3"]
    page.get_by_role("checkbox", name="Show layer 2").check()
    assert visible_layers(page) == ["1", "2", "3"]
    page.get_by_role("checkbox", name="Show layer 3").uncheck()
    assert visible_layers(page) == ["1", "2"]

    button = page.locator("[data-testid=download-layers]")
    assert button.get_attribute("data-count") == "3"
    with page.expect_download() as download:
        button.click()
    assert download.value.suggested_filename.endswith("-layers.zip")
    data = Path(download.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert [name.rsplit("-", 2)[1:] for name in names] == [
            ["layer", f"{n}.png"] for n in (1, 2, 3)
        ]
        for name in names:
            assert archive.read(name).startswith(b"\x89PNG\r\n\x1a\n")
