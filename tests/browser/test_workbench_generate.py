"""The workbench with a text-to-image model, in headless Chromium against a real `editserve
serve` serving an edit model and a text-to-image model (qwen-image) on tiny weights.

The form follows the picked model's kind: qwen-image's has no picture picker and no
"Picture N" hints, keeps the prompt and what the user changed, and sets the pictures
aside until an edit model is picked again. A generated run shows its result without
before/after; "Edit this picture" picks the edit model with the output as Picture 1.
History and compare read each run with its own model (no input pictures for a generated
run), and "Restore parameters" picks the run's model. The API tab gives the generate
calls (POST /api/ai/images/generate, the queue, client.images.generate, OpenAI's
images.generate), and each is run as pasted. Screenshot: docs/screenshots/generate.png.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fixtures.browser import open_context, shot
from fixtures.support import LiveServer, start_server, stop_server
from test_workbench import (
    add_pictures,
    connect,
    copy_snippet,
    run_snippet,
    scroll_top,
    set_advanced,
    wait_succeeded,
)
from test_workbench_layout import assert_all_text_shown

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BOTH_KINDS = "qwen-image-edit-plus,qwen-image"
PROMPT = "A red fox in the snow at dawn, watercolour, a wooden sign that reads “Open”"
# Quotes of every kind and a dollar: the snippets must carry them through bash and Python.
QUOTED = "A red fox in the snow, a sign that reads 'Open', it's \"quoted\" and $DOLLAR"


@pytest.fixture(scope="module")
def both_kinds(
    tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path
) -> Iterator[LiveServer]:
    """An edit model and a text-to-image model; the worker swaps at once between them."""
    server = start_server(
        tmp_path_factory.mktemp("generate-workbench"),
        EDITSERVE_MODELS=BOTH_KINDS,
        EDITSERVE_MODEL_SWAP_AFTER_SECONDS="0",
    )
    try:
        yield server
    finally:
        stop_server(server.process)


@pytest.fixture
def page(browser: object, both_kinds: LiveServer) -> Iterator[object]:
    context, watch = open_context(browser, both_kinds)
    page = context.new_page()  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    yield page
    context.close()  # type: ignore[attr-defined]
    watch.check()


def pick(page, model: str) -> None:
    page.select_option("#model-select", model)
    wait_for_model(page, model)


def wait_for_model(page, model: str) -> None:
    """The picked model's card and form are shown."""
    page.wait_for_function(
        "m => document.querySelector('#model-select').value === m"
        " && document.querySelector('#model-card .chip.mono')?.textContent === m"
        " && document.querySelector('#f-prompt')",
        arg=model,
    )


def outputs(page, n: int) -> None:
    """Outputs per run (×n, on the playground), then back to the API tab."""
    page.click("#tab-playground")
    page.select_option("#num-generations", str(n))
    page.click("#tab-api")


def record(server: LiveServer, generation_id: str) -> dict:
    return httpx.get(
        f"{server.base_url}/api/ai/queue/{generation_id}", headers=server.headers, timeout=30
    ).json()


def assert_no_picture_picker(page, *, empty_stage: bool = False) -> None:
    """No picture picker, and no "Picture N" in the form (nor on an empty stage)."""
    assert page.locator("[data-field=input_image], .images, .tile").count() == 0
    for where in ("#run-form", "#stage") if empty_stage else ("#run-form",):
        assert "Picture" not in page.inner_text(where), page.inner_text(where)
    placeholder = page.get_attribute("#f-prompt", "placeholder") or ""
    assert placeholder.startswith("Describe the picture") and "Picture 1" not in placeholder


def test_a_text_to_image_model_runs_without_pictures_and_history_follows_its_model(
    page, both_kinds: LiveServer, pictures: list[Path]
) -> None:
    connect(page, both_kinds, both_kinds.api_key)
    options = page.eval_on_selector_all("#model-select option", "els => els.map(e => e.value)")
    assert options == BOTH_KINDS.split(",")
    pick(page, "qwen-image-edit-plus")
    page.fill("#f-prompt", PROMPT)
    add_pictures(page, pictures[:1])
    set_advanced(page, num_inference_steps=3)

    # To the text-to-image model: no picture picker; the prompt and the changed step count
    # carry over, the untouched aspect ratio becomes the model's own default (16:9).
    pick(page, "qwen-image")
    assert_no_picture_picker(page, empty_stage=True)
    assert page.input_value("#f-prompt") == PROMPT
    assert page.input_value("#f-num_inference_steps") == "3"
    assert page.is_checked("#f-aspect_ratio-16_9")
    assert page.is_checked("#f-output_format-webp")
    assert "Your picture appears here" in page.inner_text("#stage")
    assert_all_text_shown(page, "generate form")
    scroll_top(page)
    shot(page, "generate")

    # Run it: enqueued on the queue without pictures, followed to its result.
    with page.expect_request("**/api/ai/queue") as sent:
        page.click("#run-button")
    body = json.loads(sent.value.post_data or "{}")
    assert body["model"] == "qwen-image" and "input_image" not in body, body
    first = wait_succeeded(page)
    done = record(both_kinds, first)
    assert done["model_name"] == "qwen-image" and done["input_urls"] == []
    assert (done["width"], done["height"]) == (112, 64)  # 16:9 at 64x64 pixels
    assert page.get_by_role("button", name="Before / after").count() == 0
    assert page.locator("details.menu").count() == 0  # no "Use as input" menu …
    edit_button = page.locator("[data-testid=edit-output]")  # … but "Edit this picture"
    assert edit_button.is_visible()
    assert "qwen-image" in page.inner_text(".stage-facts")
    assert_all_text_shown(page, "generate result")

    page.click("label[for='f-aspect_ratio-9_16']")
    page.click("#run-button")
    second = wait_succeeded(page, previous=first)
    portrait = record(both_kinds, second)
    assert portrait["aspect_ratio"] == "9:16" and portrait["width"] < portrait["height"]

    # "Edit this picture": the edit model, with the output as its only picture.
    edit_button.click()
    wait_for_model(page, "qwen-image-edit-plus")
    page.wait_for_function(
        "() => { const t = document.querySelectorAll('.tile[data-id]');"
        " return t.length === 1 && t[0].dataset.status === 'ready'; }"
    )
    assert page.get_attribute(".tile[data-id]", "title").startswith(f"output-{second[:8]}")
    assert page.input_value("#f-num_inference_steps") == "3"  # carried back
    page.fill("#f-prompt", "Make the fox in Picture 1 blue")
    page.click("#run-button")
    edited = wait_succeeded(page, previous=second)
    assert "/files/outputs/" in record(both_kinds, edited)["input_image"][0]

    # History: each card names its model; compare reads each run with its own model.
    page.click("#tab-history")
    for generation_id in (first, second):
        card = page.locator(f".hcard[data-id='{generation_id}']")
        assert "qwen-image" in card.locator(".chip").all_inner_texts()
        card.locator(".hcard-check input").check()
    page.get_by_role("button", name="Compare (2)").click()
    page.locator(".diff-table").wait_for()
    assert page.locator("tr[data-param=input_image]").count() == 0
    differing = page.locator("tr.differs").evaluate_all("rows => rows.map(r => r.dataset.param)")
    # the seeds are random each run; width and height echo the output's size
    assert differing == ["aspect_ratio", "seed", "width", "height"], differing
    assert page.locator("tr[data-param=image_size]").count() == 1  # the generate schema's
    assert page.locator(".compare-col img").count() == 2
    page.click(".compare .toolbar-left button")  # back to the history
    page.get_by_role("button", name="Clear selection").click()

    # A generated run beside an edit: the model differs, and only the edit has pictures.
    for generation_id in (first, edited):
        page.locator(f".hcard[data-id='{generation_id}'] .hcard-check input").check()
    page.get_by_role("button", name="Compare (2)").click()
    page.locator(".diff-table").wait_for()
    pictures_row = page.locator("tr[data-param=input_image] td")
    assert pictures_row.nth(0).inner_text() == "none (text to image)"
    assert pictures_row.nth(1).locator("img").count() == 1
    differing = page.locator("tr.differs").evaluate_all("rows => rows.map(r => r.dataset.param)")
    assert {"model", "input_image", "prompt"} <= set(differing), differing
    assert_all_text_shown(page, "compare of both kinds")
    page.click(".compare .toolbar-left button")

    # "Restore parameters" of the generated run picks its model again.
    page.locator(f".hcard[data-id='{first}'] button[aria-label^='Restore']").click()
    wait_for_model(page, "qwen-image")
    assert page.input_value("#f-prompt") == PROMPT
    assert page.is_checked("#f-aspect_ratio-16_9")
    assert page.input_value("#f-seed") == str(done["seed"])
    assert_no_picture_picker(page)


def test_switching_kinds_sets_pictures_aside_and_brings_them_back(
    page, both_kinds: LiveServer, pictures: list[Path]
) -> None:
    connect(page, both_kinds, both_kinds.api_key)
    pick(page, "qwen-image-edit-plus")
    page.fill("#f-prompt", "Put the mug from Picture 2 on the hill in Picture 1")
    add_pictures(page, pictures)
    page.click("label[for='f-aspect_ratio-auto']")  # an edit-only choice: not carried
    pick(page, "qwen-image")
    assert_no_picture_picker(page)
    assert page.is_checked("#f-aspect_ratio-16_9")
    pick(page, "qwen-image-edit-plus")
    assert page.locator(".tile-badge").all_inner_texts() == ["Picture 1", "Picture 2"]
    assert [page.get_attribute(f".tile:nth-child({i})", "title") for i in (1, 2)] == [
        "sunset.png",
        "mug.png",
    ]
    assert page.input_value("#f-prompt").startswith("Put the mug")


def test_api_tab_gives_the_generate_calls_and_they_run_as_pasted(
    page, both_kinds: LiveServer, tmp_path: Path
) -> None:
    key = both_kinds.api_key
    connect(page, both_kinds, key)
    pick(page, "qwen-image")
    page.fill("#f-prompt", QUOTED)
    page.click("label[for='f-aspect_ratio-1_1']")
    set_advanced(page, num_inference_steps=2)
    page.click("#tab-api")
    page.wait_for_selector("pre.code[data-snippet]")

    texts = {}
    for snippet in ("json", "curl-sync", "curl-poll", "curl-sse"):
        texts[snippet] = copy_snippet(page, snippet)
    texts["python-requests"] = copy_snippet(page, "python-requests")
    texts["python-client"] = copy_snippet(page, "python-client")
    texts["python-openai"] = copy_snippet(page, "python-openai")
    assert "POST http://127.0.0.1" in texts["curl-sync"]
    assert "/api/ai/images/generate " in texts["curl-sync"], texts["curl-sync"]
    for name, text in texts.items():
        assert "input_image" not in text and "edit" not in text.replace("editserve", ""), name
        assert key not in text, name
    notes = page.inner_text(".api-notes")
    assert "/api/ai/images/generate" in notes and "/v1/images/generations" in notes
    assert json.loads(texts["json"]) == {
        "model": "qwen-image",
        "prompt": QUOTED,
        "aspect_ratio": "1:1",
        "image_size": "optimize_for_quality",
        "negative_prompt": " ",
        "output_format": "webp",
        "num_inference_steps": 2,
        "true_cfg_scale": 3,
        "output_quality": 80,
    }

    # cURL, sync: POST /api/ai/images/generate; ×2 gives two pictures in one answer.
    outputs(page, 2)
    text = copy_snippet(page, "curl-sync")
    assert "/api/ai/images/generate" in text and '"num_generations": 2' in text
    done = run_snippet(text, key, tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["model"] == "qwen-image" and len(answer["images"]) == 2, answer
    image = httpx.get(answer["images"][0]["url"], timeout=30)
    assert image.status_code == 200 and image.content[8:12] == b"WEBP"
    made = record(both_kinds, answer["generations"][0]["generation_id"])
    assert made["prompt"] == QUOTED and made["aspect_ratio"] == "1:1"
    assert made["width"] == made["height"]  # 1:1
    outputs(page, 1)

    # The queue: with server-sent events (curl, awk and sed), and by polling (jq).
    done = run_snippet(copy_snippet(page, "curl-sse"), key, tmp_path)
    assert done.returncode == 0, done.stderr
    event = json.loads(done.stdout.strip().splitlines()[-1])
    assert event["status"] == "succeeded" and event["url"]
    if shutil.which("jq"):
        done = run_snippet(copy_snippet(page, "curl-poll"), key, tmp_path)
        assert done.returncode == 0, done.stderr
        assert '"status":"succeeded"' in done.stdout

    # Python: requests on the queue, editserve's client.images.generate, OpenAI's SDK.
    try:
        import requests  # noqa: F401
    except ImportError:
        pass
    else:
        done = run_snippet(copy_snippet(page, "python-requests"), key, tmp_path, python=True)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("saved ")
    text = copy_snippet(page, "python-client")
    assert "client.images.generate(" in text and 'model="qwen-image"' in text
    done = run_snippet(text, key, tmp_path, python=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("saved ") == 2, done.stdout
    assert (tmp_path / "generated-1.webp").read_bytes()[8:12] == b"WEBP"
    text = copy_snippet(page, "python-openai")
    assert "client.images.generate(" in text and 'size="auto"' in text
    assert '"aspect_ratio": "1:1"' in text and '"num_inference_steps": 2' in text
    (tmp_path / "generated-1.webp").unlink()
    done = run_snippet(text, key, tmp_path, python=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "saved generated-1.webp"
    assert (tmp_path / "generated-1.webp").read_bytes()[8:12] == b"WEBP"

    # Back on the edit model, the API tab gives the edit calls again.
    pick(page, "qwen-image-edit-plus")
    assert "/api/ai/images/edit" in copy_snippet(page, "curl-sync")
    assert "/v1/images/edits" in page.inner_text(".api-notes")


def test_the_generate_form_at_phone_width(browser: object, both_kinds: LiveServer) -> None:
    from fixtures.browser import PHONE

    context, watch = open_context(browser, both_kinds, viewport=PHONE, color_scheme="light")
    page = context.new_page()  # type: ignore[attr-defined]
    try:
        connect(page, both_kinds, both_kinds.api_key)
        pick(page, "qwen-image")
        page.fill("#f-prompt", PROMPT)
        assert_no_picture_picker(page, empty_stage=True)
        assert_all_text_shown(page, "generate form at phone width")
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    finally:
        context.close()  # type: ignore[attr-defined]
    watch.check()
