"""The workbench in headless Chromium against a real `editserve serve` on tiny weights.

Each test opens a fresh browser profile; every request it makes must stay on the
server's origin (checked by the `workbench` fixture), and screenshots of each view are
written to docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fixtures.browser import PHONE, shot
from fixtures.support import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN_TIMEOUT_MS = 120_000

# A MutationObserver that records every text the progress line shows ("Step k of n"):
# the stage swaps its DOM quickly on the tiny model, so polling could miss steps.
RECORD_PROGRESS = """() => {
  window.__progress = [];
  new MutationObserver((records) => {
    for (const record of records) {
      const el = record.target;
      if (el.nodeType === 1 && el.matches('[data-testid=progress-step]')) {
        for (const node of record.addedNodes) window.__progress.push(node.textContent);
      }
    }
  }).observe(document.body, { subtree: true, childList: true });
}"""


# --- steps ------------------------------------------------------------------------------------


def connect(page, server: LiveServer, key: str) -> None:
    """Open the workbench at / and give it the key through its dialog."""
    page.goto(server.base_url + "/")
    page.wait_for_selector("#key-dialog[open]")
    page.fill("#key-input", key)
    page.click("#key-save")
    page.wait_for_selector("#model-card:not([hidden])")
    page.wait_for_selector("#conn[data-stream=live]")


def add_pictures(page, paths: list[Path]) -> None:
    before = page.locator(".tile[data-status=ready]").count()
    with page.expect_file_chooser() as chooser:
        page.click(".tile-add-btn")
    chooser.value.set_files([str(p) for p in paths])
    page.wait_for_function(
        "n => document.querySelectorAll('.tile[data-status=ready]').length === n",
        arg=before + len(paths),
    )


def set_advanced(page, **values: object) -> None:
    if page.get_attribute("details.advanced", "open") is None:
        page.click("details.advanced > summary")
    for name, value in values.items():
        page.fill(f"#f-{name}", str(value))


def run(page) -> str:
    """Press Run and wait for the generation to succeed; returns its id."""
    page.click("#run-button")
    return wait_succeeded(page)


def wait_succeeded(page, previous: str | None = None) -> str:
    """Wait for a run to succeed; `previous`: the id the stage showed before this run (the
    stage keeps showing it until the enqueue has answered)."""
    if previous is not None:
        page.wait_for_function(
            "id => document.querySelector('#stage')?.dataset.generationId !== id", arg=previous
        )
    page.wait_for_selector(
        "#stage[data-state=succeeded] [data-testid=result-image]", timeout=RUN_TIMEOUT_MS
    )
    page.wait_for_function(
        "() => { const img = document.querySelector('[data-testid=result-image]');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    return page.get_attribute("#stage", "data-generation-id")


def copy_snippet(page, snippet: str) -> str:
    page.click(f"[data-snippet={snippet}]")
    before = int(page.get_attribute(".copy-btn", "data-copies") or 0)
    page.click(".copy-btn")
    # The "Copied" label reverts after 1.6 s, which a loaded machine can miss; the
    # button's copy counter lasts.
    page.wait_for_function(
        "n => Number(document.querySelector('.copy-btn').dataset.copies || 0) > n", arg=before
    )
    assert page.get_attribute(".copy-btn", "data-copy-result") == "ok"
    return page.evaluate("() => navigator.clipboard.readText()")


def run_snippet(
    text: str, key: str, cwd: Path, *, python: bool = False
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", text] if python else ["bash", "-c", text]
    return subprocess.run(
        command,
        env={**os.environ, "EDITSERVE_API_KEY": key},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


def scroll_top(page) -> None:
    """Back to the top of the page and of the form, focus out of inputs: for screenshots."""
    page.evaluate(
        "() => { window.scrollTo(0, 0); document.querySelector('.form-fields')?.scrollTo(0, 0);"
        " if (document.activeElement?.matches('input, textarea')) document.activeElement.blur(); }"
    )


# --- tests ------------------------------------------------------------------------------------


def test_run_with_live_progress_result_before_after_and_use_as_input(
    workbench, live_server: LiveServer, browser_key: str, pictures: list[Path]
) -> None:
    page, watch = workbench()
    page.goto(live_server.base_url + "/")
    page.wait_for_selector("#key-dialog[open]")
    assert page.url.endswith("/workbench/#playground") or "/workbench/" in page.url
    shot(page, "key-dialog")
    page.fill("#key-input", "es_not-a-key")
    page.click("#key-save")
    page.wait_for_selector("#key-error:has-text('not accepted')")
    page.fill("#key-input", browser_key)
    page.click("#key-save")
    page.wait_for_selector("#model-card:not([hidden])")
    page.wait_for_selector("#conn[data-stream=live]")

    # The card says what is loaded, with a clear banner for the tiny development weights.
    assert "Qwen Image Edit - 2509" in page.inner_text("#model-card")
    assert "tiny random" in page.inner_text("[data-testid=weights-chip]")
    assert page.is_visible("#weights-banner")
    assert "Development weights" in page.inner_text("#weights-banner")

    # Defaults and limits come from the schema.
    assert page.is_checked("#f-aspect_ratio-1_1")
    assert page.is_checked("#f-output_format-png")
    assert page.input_value("#f-num_inference_steps") == "40"
    assert page.get_attribute("#f-num_inference_steps", "max") == "100"
    assert page.input_value("#f-true_cfg_scale") == "4"

    page.fill("#f-prompt", "Put the mug from Picture 2 on the hill in Picture 1, warm sunset light")
    add_pictures(page, pictures)
    assert page.locator(".tile-badge").all_inner_texts() == ["Picture 1", "Picture 2"]
    # Reorder with the keyboard-reachable buttons, and back.
    page.click("[aria-label='Move Picture 1 right']")
    assert page.get_attribute(".tile:nth-child(1)", "title") == "mug.png"
    page.click("[aria-label='Move Picture 2 left']")
    assert page.get_attribute(".tile:nth-child(1)", "title") == "sunset.png"
    set_advanced(page, num_inference_steps=100)
    scroll_top(page)
    shot(page, "playground")

    # Run on the queue; watch live progress (from the event stream) reach the end.
    page.evaluate(RECORD_PROGRESS)
    page.click("#run-button")
    page.wait_for_function(
        "() => window.__progress.some(t => /^Step [1-9]\\d* of 100$/.test(t))",
        timeout=RUN_TIMEOUT_MS,
    )
    assert re.search(r"\d+:\d\d elapsed", page.inner_text("[data-testid=elapsed]"))
    assert page.is_visible("#cancel-button")
    scroll_top(page)
    shot(page, "progress")
    first = wait_succeeded(page)
    steps = page.evaluate("() => window.__progress")
    counts = [
        tuple(map(int, m.groups())) for t in steps if (m := re.match(r"Step (\d+) of (\d+)", t))
    ]
    assert len(counts) >= 2, steps
    assert counts[-1] == (100, 100), steps
    assert [k for k, _ in counts] == sorted(k for k, _ in counts)
    assert page.is_hidden("#cancel-button")

    # The result, large, with its parameters and a download.
    bar = page.inner_text(".stage-bar")
    assert "100 steps" in bar and "seed" in bar
    with page.expect_download() as download_info:
        page.click("[data-testid=download]")
    download = download_info.value
    assert download.suggested_filename == f"editserve-{first[:8]}.png"
    assert Path(download.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    scroll_top(page)
    shot(page, "result")

    # Before/after between the output and an input picture, moved with the keyboard.
    page.get_by_role("button", name="Before / after").click()
    slider = page.locator("[data-testid=before-after]")
    slider.wait_for()
    assert slider.locator("img").count() == 2
    range_input = slider.locator("input[type=range]")
    range_input.focus()
    for _ in range(10):
        page.keyboard.press("ArrowLeft")
    position = float(range_input.input_value())
    assert position < 50
    page.click("label[for=ba-input-1]")
    assert "Picture 2" in page.inner_text("[data-testid=before-after]")
    scroll_top(page)
    shot(page, "before-after")

    # "Use output as input": the result URL itself becomes Picture 1 (the server reads its
    # own links from storage): nothing is uploaded again, and the next run works with it.
    page.click("details.menu > summary")
    page.click("text=Replace the inputs")
    page.wait_for_function(
        "() => { const tiles = document.querySelectorAll('.tile[data-id]');"
        " return tiles.length === 1 && tiles[0].dataset.status === 'ready'; }"
    )
    assert page.get_attribute(".tile[data-id]", "title").startswith(f"output-{first[:8]}")
    upload_calls = [c for c in watch.api_calls if c == "POST /api/ai/uploads"]
    assert len(upload_calls) == 2  # the two pictures only
    set_advanced(page, num_inference_steps=2)
    page.click("#run-button")
    chained = wait_succeeded(page, previous=first)
    record = httpx.get(
        f"{live_server.base_url}/api/ai/queue/{chained}",
        headers={"Authorization": f"Bearer {browser_key}"},
    ).json()
    assert "/files/outputs/" in record["input_image"][0], record["input_image"]

    # History comes from the server: it survives a reload, and so does the key.
    page.reload()
    page.wait_for_selector("#model-card:not([hidden])")
    assert page.is_hidden("#key-dialog")
    page.wait_for_selector("#recent-strip .recent-item")
    page.click("#tab-history")
    page.wait_for_selector(f".hcard[data-id='{first}']")


def test_compare_two_runs_side_by_side_with_differences_highlighted(
    workbench, live_server: LiveServer, browser_key: str, pictures: list[Path]
) -> None:
    page, _ = workbench()
    connect(page, live_server, browser_key)
    page.fill("#f-prompt", "Turn the sky in Picture 1 into a starry night")
    add_pictures(page, pictures[:1])
    set_advanced(page, num_inference_steps=8, true_cfg_scale=4)
    a = run(page)
    # Same inputs, a different guidance scale, a locked seed; run with the keyboard.
    set_advanced(page, true_cfg_scale=7.5)
    page.click("button[aria-label^='New random seed']")
    assert page.get_attribute(".seed-lock", "aria-pressed") == "true"
    page.focus("#f-prompt")
    page.keyboard.press("Control+Enter")
    b = wait_succeeded(page, previous=a)
    assert a != b

    page.click("#tab-history")
    for generation_id in (a, b):
        page.locator(f".hcard[data-id='{generation_id}'] .hcard-check input").check()
    scroll_top(page)
    shot(page, "history")
    page.get_by_role("button", name="Compare (2)").click()
    table = page.locator(".diff-table")
    table.wait_for()
    differing = page.locator("tr.differs").evaluate_all("rows => rows.map(r => r.dataset.param)")
    assert set(differing) == {"true_cfg_scale", "seed"}, differing
    assert page.locator("td.changed").count() == 2
    assert page.locator(".compare-col img").count() == 2
    assert "2 parameters differ" in page.inner_text("[data-testid=diff-summary]")
    scroll_top(page)
    shot(page, "compare", full_page=True)

    page.get_by_text("Only differences").click()
    params = page.locator(".diff-table tbody tr:not(.info)").evaluate_all(
        "rows => rows.map(r => r.dataset.param)"
    )
    assert set(params) == {"true_cfg_scale", "seed"}

    page.get_by_role("button", name="A/B slider").click()
    page.locator(".compare-ab [data-testid=before-after]").wait_for()
    scroll_top(page)
    shot(page, "compare-slider")


def test_api_tab_snippets_run_as_pasted(
    workbench, live_server: LiveServer, browser_key: str, pictures: list[Path], tmp_path: Path
) -> None:
    page, _ = workbench()
    connect(page, live_server, browser_key)
    page.fill("#f-prompt", "Make it night, it's 'quoted' with \"double\" quotes and a $DOLLAR")
    add_pictures(page, pictures)
    page.click("label[for='f-aspect_ratio-16_9']")
    page.click("label[for='f-output_format-webp']")
    set_advanced(page, num_inference_steps=4)
    page.click("#tab-api")
    page.wait_for_selector("pre.code[data-snippet=curl-sync]")
    scroll_top(page)
    shot(page, "api")

    # cURL, sync: the exact call, copied from the page, run by bash.
    text = copy_snippet(page, "curl-sync")
    assert browser_key not in text and "$EDITSERVE_API_KEY" in text
    assert "/api/ai/uploads/upl_" in text  # local pictures appear as their upload URLs
    done = run_snippet(text, browser_key, tmp_path)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["model"] == "qwen-image-edit-plus"
    image = httpx.get(body["images"][0]["url"], timeout=30)
    assert image.status_code == 200 and image.content[8:12] == b"WEBP"
    generation = httpx.get(
        f"{live_server.base_url}/api/ai/queue/{body['generation_id']}",
        headers={"Authorization": f"Bearer {browser_key}"},
    ).json()
    assert (
        generation["prompt"] == "Make it night, it's 'quoted' with \"double\" quotes and a $DOLLAR"
    )
    assert generation["aspect_ratio"] == "16:9" and generation["num_inference_steps"] == 4

    # cURL, async with SSE (curl + awk + sed only).
    done = run_snippet(copy_snippet(page, "curl-sse"), browser_key, tmp_path)
    assert done.returncode == 0, done.stderr
    event = json.loads(done.stdout.strip().splitlines()[-1])
    assert event["status"] == "succeeded" and event["url"]

    # cURL, async with polling (uses jq).
    if shutil.which("jq"):
        done = run_snippet(copy_snippet(page, "curl-poll"), browser_key, tmp_path)
        assert done.returncode == 0, done.stderr
        assert '"status":"succeeded"' in done.stdout
        assert list(tmp_path.glob("*.webp"))

    # Python with requests, and with editserve's own client.
    try:
        import requests  # noqa: F401
    except ImportError:
        pass
    else:
        done = run_snippet(
            copy_snippet(page, "python-requests"), browser_key, tmp_path, python=True
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("saved ")
    done = run_snippet(copy_snippet(page, "python-client"), browser_key, tmp_path, python=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("saved ") == 2
    assert (tmp_path / "edited.webp").exists()

    # Python with the official OpenAI SDK against /v1 (the same generation, another API).
    text = copy_snippet(page, "python-openai")
    assert 'size="auto"' in text and '"aspect_ratio": "16:9"' in text
    assert '"num_inference_steps": 4' in text
    done = run_snippet(text, browser_key, tmp_path, python=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "saved edited-1.webp"
    assert (tmp_path / "edited-1.webp").read_bytes()[8:12] == b"WEBP"


def test_errors_are_shown_next_to_their_field(
    workbench, live_server: LiveServer, browser_key: str
) -> None:
    page, watch = workbench()
    connect(page, live_server, browser_key)

    # Flagged before sending: nothing reaches the queue.
    page.fill("#f-prompt", "   ")
    page.click("#run-button")
    assert "must not be empty" in page.inner_text("#f-prompt-error")
    assert "at least one image" in page.inner_text("#f-input_image-error")
    set_advanced(page, num_inference_steps=500)
    page.click("#run-button")
    assert "at most 100" in page.inner_text("#f-num_inference_steps-error")
    assert "POST /api/ai/queue" not in watch.api_calls

    # The server's 400 lands on the picture it names.
    set_advanced(page, num_inference_steps=8)
    page.fill("#f-prompt", "Anything")
    # A URL on the server's own origin (any other would be an external request).
    page.fill("input[aria-label='Image URL']", f"{live_server.base_url}/workbench/missing.png")
    page.click("button:has-text('Add URL')")
    page.click("#run-button")
    page.wait_for_selector(".tile.has-error .tile-error")
    error = page.inner_text("#f-input_image-error")
    assert "missing.png" in error
    assert "POST /api/ai/queue" in watch.api_calls
    scroll_top(page)
    shot(page, "validation")


# Builds a File from bytes in the page and sends it the way a user's paste or drop would.
DISPATCH_FILE = """([kind, bytes, name]) => {
  const data = new DataTransfer();
  data.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }));
  if (kind === 'paste') {
    document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true }));
  } else {
    const zone = document.querySelector('.images');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      const init = { dataTransfer: data, bubbles: true, cancelable: true };
      zone.dispatchEvent(new DragEvent(type, init));
    }
  }
}"""


def test_pictures_by_paste_and_drop_and_keyboard_tabs(
    workbench, live_server: LiveServer, browser_key: str, pictures: list[Path]
) -> None:
    page, watch = workbench()
    connect(page, live_server, browser_key)
    page.evaluate(DISPATCH_FILE, ["paste", list(pictures[0].read_bytes()), "pasted.png"])
    page.evaluate(DISPATCH_FILE, ["drop", list(pictures[1].read_bytes()), "dropped.png"])
    page.wait_for_function(
        "() => document.querySelectorAll('.tile[data-status=ready]').length === 2"
    )
    assert [page.get_attribute(f".tile:nth-child({i})", "title") for i in (1, 2)] == [
        "pasted.png",
        "dropped.png",
    ]
    page.click("[aria-label='Remove Picture 1']")
    assert page.locator(".tile[data-id]").count() == 1
    assert page.locator(".tile-badge").all_inner_texts() == ["Picture 1"]

    # The tabs are a real tablist: arrow keys move between them.
    page.focus("#tab-playground")
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#tab-history", "aria-selected") == "true"
    assert page.is_visible("#view-history") and page.is_hidden("#view-playground")
    page.keyboard.press("ArrowRight")
    assert page.is_visible("#view-api")
    # The key is never shown by the page (only a masked hint of it).
    assert browser_key not in page.content()
    assert [c for c in watch.api_calls if c == "POST /api/ai/uploads"] == [
        "POST /api/ai/uploads"
    ] * 2


def test_cancel_a_running_generation(
    workbench, live_server: LiveServer, browser_key: str, pictures: list[Path]
) -> None:
    page, _ = workbench()
    connect(page, live_server, browser_key)
    page.fill("#f-prompt", "A long run to cancel")
    add_pictures(page, pictures[:1])
    set_advanced(page, num_inference_steps=100)
    page.select_option("#num-generations", "2")
    page.click("#run-button")
    page.wait_for_selector("#stage[data-state=processing], #stage[data-state=queued]")
    page.click("#cancel-button")
    page.wait_for_selector("#stage[data-state=cancelled]", timeout=RUN_TIMEOUT_MS)
    assert "Cancelled" in page.inner_text("#stage")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.batch-label')]"
        ".every(label => label.textContent === 'Cancelled')"
    )


def test_phone_width_and_light_theme(
    workbench, live_server: LiveServer, browser_key: str, pictures: list[Path]
) -> None:
    page, _ = workbench(viewport=PHONE, color_scheme="light", is_mobile=True, has_touch=True)
    connect(page, live_server, browser_key)
    page.fill("#f-prompt", "Put the mug from Picture 2 on the hill in Picture 1")
    add_pictures(page, pictures)
    scroll_top(page)
    shot(page, "phone-form")
    set_advanced(page, num_inference_steps=8)
    run(page)

    def no_horizontal_scroll() -> None:
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")

    no_horizontal_scroll()
    # One column: the output stage sits under the form.
    form_box = page.locator("#run-form").bounding_box()
    stage_box = page.locator("#stage").bounding_box()
    assert stage_box["y"] > form_box["y"] + form_box["height"] - 1
    assert stage_box["width"] <= PHONE["width"]
    page.locator("#stage").scroll_into_view_if_needed()
    shot(page, "phone-result")
    page.click("#tab-history")
    page.wait_for_selector(".hcard")
    no_horizontal_scroll()
    scroll_top(page)
    shot(page, "phone-history")
    page.click("#tab-api")
    no_horizontal_scroll()

    # The desktop layout in the light theme; a run is shown again from "Recent runs".
    desk, _ = workbench(color_scheme="light")
    connect(desk, live_server, browser_key)
    desk.fill("#f-prompt", "Put the mug from Picture 2 on the hill in Picture 1")
    add_pictures(desk, pictures)
    desk.click("#recent-strip .recent-item[data-status=succeeded]")
    wait_succeeded(desk)
    scroll_top(desk)
    shot(desk, "light-result")


def test_sse_parser_and_error_details_in_the_page(workbench, live_server: LiveServer) -> None:
    """The page's own modules: the SSE reader (chunks split anywhere, comments, ids) and
    the parsing of invalid_params details into fields."""
    page, _ = workbench()
    page.goto(live_server.base_url + "/workbench/")
    result = page.evaluate(
        """async () => {
      const { SseParser } = await import('./js/events.js');
      const { ApiError } = await import('./js/api.js');
      const { shellQuote } = await import('./js/snippets.js');
      const wire = ': keep-alive\\n\\nid: 7\\nevent: media_generation_progress\\n'
        + 'data: {"generation_id":"g","step":3,"total":8}\\n\\n'
        + 'id: 8\\r\\nevent: media_generation_completed\\r\\n'
        + 'data: {"a":1,\\r\\ndata: "b":2}\\r\\n\\r\\n';
      const events = [];
      for (let size = 1; size <= wire.length; size += 7) {
        const parser = new SseParser();
        const got = [];
        for (let i = 0; i < wire.length; i += size) {
          got.push(...parser.feed(wire.slice(i, i + size)));
        }
        events.push(got);
      }
      const error = new ApiError(400, 'invalid_params', 'Invalid parameters',
        'prompt: must not be empty; input_image[1]: download of http://x/a;b.png failed; '
        + 'foo: unknown field');
      return { events, fields: error.fieldErrors(), quoted: shellQuote("it's") };
    }"""
    )
    expected = [
        {
            "type": "media_generation_progress",
            "data": '{"generation_id":"g","step":3,"total":8}',
            "id": "7",
        },
        {"type": "media_generation_completed", "data": '{"a":1,\n"b":2}', "id": "8"},
    ]
    assert all(got == expected for got in result["events"]), result["events"]
    assert [(f["field"], f["index"]) for f in result["fields"]] == [
        ("prompt", None),
        ("input_image", 1),
        ("foo", None),
    ]
    assert result["fields"][1]["message"] == "download of http://x/a;b.png failed"
    assert result["quoted"] == "'it'\\''s'"
