"""The mask painter: paint over Picture 1 in the workbench, run a masked edit on the tiny
model, and find the mask again in the run's details, its history card, "Restore
parameters" and the API tab's snippets (run as pasted).

Strokes are drawn with Playwright's mouse (down, move, up) and, on a touch screen, with
Chromium's own touch events (Playwright's touchscreen only taps: a tap paints a dot, a
drag goes through the DevTools protocol's Input.dispatchTouchEvent). The page's pointer
events see both as one stroke.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest
from fixtures.browser import PHONE, shot
from fixtures.support import LiveServer
from PIL import Image, ImageChops
from test_workbench import (
    add_pictures,
    connect,
    copy_snippet,
    run_snippet,
    wait_succeeded,
)
from test_workbench_layout import FIND_HIDDEN_TEXT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LAPTOP = {"width": 1400, "height": 900}
WIDTH, HEIGHT = 480, 360  # Picture 1 (fixtures.pictures.landscape)
BRUSH = 40  # pixels of Picture 1
STROKE = ((120, 90), (300, 90))  # from, to: in Picture 1's pixels
# What the stroke covers: a capsule of radius BRUSH / 2 around the segment.
INSIDE = [(120, 90), (210, 90), (300, 90), (210, 75), (210, 105), (105, 90), (315, 90)]
OUTSIDE = [(20, 20), (210, 200), (460, 340), (210, 120), (90, 90), (330, 90)]


# --- steps ------------------------------------------------------------------------------------


def open_painter(page) -> None:
    """Open the painter (closed in a fresh profile) once Picture 1 is in its canvas."""
    if page.get_attribute(".mask-details", "open") is None:
        page.click(".mask-details > summary")
    page.wait_for_function(
        "([w, h]) => { const c = document.querySelector('[data-testid=mask-canvas]');"
        " return c && c.width === w && c.height === h; }",
        arg=[WIDTH, HEIGHT],
    )
    page.locator("[data-testid=mask-canvas]").scroll_into_view_if_needed()
    page.evaluate(
        "size => { const r = document.querySelector('#f-mask-size'); r.value = size;"
        " r.dispatchEvent(new Event('input', { bubbles: true })); }",
        BRUSH,
    )


def on_screen(page, x: float, y: float) -> tuple[float, float]:
    """Picture 1's pixel (x, y) where the canvas shows it on the page."""
    box = page.locator("[data-testid=mask-canvas]").bounding_box()
    return box["x"] + x * box["width"] / WIDTH, box["y"] + y * box["height"] / HEIGHT


def paint_stroke_with_the_mouse(page) -> None:
    (x0, y0), (x1, y1) = STROKE
    page.mouse.move(*on_screen(page, x0, y0))
    page.mouse.down()
    page.mouse.move(*on_screen(page, x1, y1), steps=12)
    page.mouse.up()
    wait_mask_ready(page)


def wait_mask_ready(page) -> None:
    """Painted and uploaded: the field now holds the mask's upload URL."""
    page.wait_for_selector(".mask-painter[data-state=ready]")


def painted_alpha(page, x: int, y: int) -> int:
    return page.evaluate(
        "([x, y]) => document.querySelector('[data-testid=mask-canvas]')"
        ".getContext('2d').getImageData(x, y, 1, 1).data[3]",
        [x, y],
    )


def get_generation(server: LiveServer, key: str, gen_id: str) -> dict:
    response = httpx.get(
        f"{server.base_url}/api/ai/queue/{gen_id}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def fetch_image(url: str, key: str) -> Image.Image:
    response = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    response.raise_for_status()
    return Image.open(io.BytesIO(response.content))


def assert_the_stroke(mask: Image.Image) -> None:
    """The mask is the painted stroke: white (edit) on it, black elsewhere."""
    assert mask.size == (WIDTH, HEIGHT)
    gray = mask.convert("L")
    for point in INSIDE:
        assert gray.getpixel(point) == 255, point
    for point in OUTSIDE:
        assert gray.getpixel(point) == 0, point
    left, top, right, bottom = gray.point(lambda v: 255 if v >= 128 else 0).getbbox()
    (x0, y0), (x1, _) = STROKE
    r = BRUSH // 2
    assert abs(left - (x0 - r)) <= 2 and abs(right - (x1 + r)) <= 2
    assert abs(top - (y0 - r)) <= 2 and abs(bottom - (y0 + r)) <= 2


def assert_outside_is_picture_1(
    result: Image.Image, picture: Image.Image, mask: Image.Image
) -> None:
    """Every pixel outside the mask (mask_feather 0) is Picture 1's own."""
    assert result.size == picture.size
    diff = ImageChops.difference(result.convert("RGB"), picture.convert("RGB")).convert("L")
    outside = mask.convert("L").point(lambda v: 0 if v >= 128 else 255)
    changed = ImageChops.multiply(diff.point(lambda v: 255 if v else 0), outside)
    assert changed.getbbox() is None, f"pixels outside the mask changed: {changed.getbbox()}"


def assert_no_hidden_text(page) -> None:
    problems = page.evaluate(FIND_HIDDEN_TEXT)
    assert not problems, "\n".join(problems)


# --- tests ------------------------------------------------------------------------------------


def test_paint_a_mask_run_it_see_it_in_history_and_restore_it(
    workbench, live_server: LiveServer, browser_key: str, pictures: list[Path]
) -> None:
    page, watch = workbench(viewport=LAPTOP)
    connect(page, live_server, browser_key)
    page.fill("#f-prompt", "A red knitted hat on the hill")
    add_pictures(page, pictures[:1])
    # Nothing painted: no mask is sent (and no mask_feather).
    page.click("#tab-api")
    page.click("[data-snippet=json]")
    body = json.loads(page.text_content("pre.code"))
    assert "mask" not in body and "mask_feather" not in body
    page.click("#tab-playground")

    open_painter(page)
    assert page.input_value("#f-mask_feather") == "0"  # the feather sits by the painter
    paint_stroke_with_the_mouse(page)
    assert "Only the painted" in page.text_content("[data-testid=mask-status]")
    assert painted_alpha(page, 210, 90) == 255 and painted_alpha(page, 20, 20) == 0
    assert_no_hidden_text(page)

    page.click("#run-button")
    gen_id = wait_succeeded(page)

    # The request carried the mask: the finished generation has it in its parameters and
    # its stored copy after the picture in input_urls; white where the stroke went.
    gen = get_generation(live_server, browser_key, gen_id)
    assert gen["mask"].startswith(f"{live_server.base_url}/api/ai/uploads/upl_")
    assert gen["mask_feather"] == 0
    assert len(gen["input_urls"]) == 2
    mask = fetch_image(gen["input_urls"][1], browser_key)
    assert_the_stroke(mask)
    assert_the_stroke(fetch_image(gen["mask"], browser_key))  # what the page uploaded
    # Outside the painted region the output is Picture 1, pixel for pixel.
    result = fetch_image(gen["result_url"], browser_key)
    assert_outside_is_picture_1(result, Image.open(pictures[0]), mask)

    # The run's details show the mask, marked "mask"; the before/after offers the picture only.
    thumb = page.locator("#stage [data-testid=mask-thumb]")
    assert thumb.inner_text().strip() == "mask"
    assert thumb.locator("img").get_attribute("src") == gen["input_urls"][1]
    # The screenshot: the painter with its tools in the form, the masked result beside it.
    page.evaluate(
        "() => { document.querySelector('.mask-status').scrollIntoView({ block: 'end' });"
        " window.scrollTo(0, 0); document.activeElement?.blur(); }"
    )
    shot(page, "mask-painter")
    page.click("#stage button:has-text('Before / after')")
    assert page.locator(".ba-picker").count() == 0  # one picture: no "Picture 2" (the mask)
    page.click("#stage button:has-text('Before / after')")

    # Clear, then restore the run: the painter gets its mask back.
    page.click(".mask-actions button:has-text('Clear')")
    page.wait_for_selector(".mask-painter[data-state=none]")
    assert painted_alpha(page, 210, 90) == 0
    page.click("#tab-history")
    card = page.locator(f".hcard[data-id='{gen_id}']")
    card.wait_for()
    assert card.locator("[data-testid=mask-thumb]").inner_text().strip() == "mask"
    card.get_by_role("button", name="Restore").click()
    page.wait_for_selector("#view-playground:not([hidden])")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=mask-canvas]').dataset.coverage) > 0"
    )
    assert painted_alpha(page, 210, 90) == 255 and painted_alpha(page, 20, 20) == 0
    page.click("#tab-api")
    page.click("[data-snippet=json]")
    body = json.loads(page.text_content("pre.code"))
    assert body["mask"] == gen["mask"] and body["mask_feather"] == 0
    assert not watch.errors


def test_api_snippets_with_a_mask_run_as_pasted(
    workbench, live_server: LiveServer, browser_key: str, pictures: list[Path], tmp_path: Path
) -> None:
    page, _ = workbench(viewport=LAPTOP)
    connect(page, live_server, browser_key)
    page.fill("#f-prompt", "A red knitted hat on the hill")
    add_pictures(page, pictures[:1])
    open_painter(page)
    paint_stroke_with_the_mouse(page)
    page.click("#tab-api")
    picture = Image.open(pictures[0])

    # cURL, sync: the mask rides as its upload URL, with mask_feather.
    text = copy_snippet(page, "curl-sync")
    assert '"mask": "' + live_server.base_url + "/api/ai/uploads/upl_" in text
    assert '"mask_feather": 0' in text
    done = run_snippet(text, browser_key, tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    gen = get_generation(live_server, browser_key, answer["generation_id"])
    mask = fetch_image(gen["input_urls"][1], browser_key)
    assert_the_stroke(mask)
    assert_outside_is_picture_1(fetch_image(answer["images"][0]["url"], browser_key), picture, mask)

    # Python, editserve's client: mask= and mask_feather=.
    text = copy_snippet(page, "python-client")
    assert "mask=" in text and "mask_feather=0" in text
    done = run_snippet(text, browser_key, tmp_path, python=True)
    assert done.returncode == 0, done.stderr
    assert_outside_is_picture_1(Image.open(tmp_path / "edited.png"), picture, mask)

    # Python, the OpenAI SDK: the mask goes as OpenAI's own mask file.
    text = copy_snippet(page, "python-openai")
    assert 'mask=("mask.png", fetch(MASK))' in text
    done = run_snippet(text, browser_key, tmp_path, python=True)
    assert done.returncode == 0, done.stderr
    assert_outside_is_picture_1(Image.open(tmp_path / "edited-1.png"), picture, mask)


def test_paint_with_touch_on_a_phone(
    workbench, live_server: LiveServer, browser_key: str, pictures: list[Path]
) -> None:
    page, _ = workbench(viewport=PHONE, is_mobile=True, has_touch=True)
    connect(page, live_server, browser_key)
    add_pictures(page, pictures[:1])
    open_painter(page)

    # A tap paints a dot (Playwright's touchscreen).
    page.touchscreen.tap(*on_screen(page, 400, 300))
    wait_mask_ready(page)
    assert painted_alpha(page, 400, 300) == 255

    # A drag paints a stroke and does not scroll the page (touch-action: none).
    scroll = page.evaluate("() => window.scrollY")
    cdp = page.context.new_cdp_session(page)
    (x0, y0), (x1, y1) = STROKE
    points = [on_screen(page, x0 + (x1 - x0) * i / 10, y0 + (y1 - y0) * i / 10) for i in range(11)]

    def touch(kind: str, point: tuple[float, float] | None) -> None:
        touch_points = [{"x": point[0], "y": point[1], "id": 1}] if point else []
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touch_points})

    touch("touchStart", points[0])
    for point in points[1:]:
        touch("touchMove", point)
    touch("touchEnd", None)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=mask-canvas]').getContext('2d')"
        ".getImageData(300, 90, 1, 1).data[3] === 255"
    )
    wait_mask_ready(page)
    assert painted_alpha(page, 120, 90) == 255 and painted_alpha(page, 210, 90) == 255
    assert painted_alpha(page, 20, 20) == 0
    assert page.evaluate("() => window.scrollY") == scroll
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert_no_hidden_text(page)
