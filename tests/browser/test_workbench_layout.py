"""No text of the workbench is clipped or covered, at a laptop's size and at a phone's.

After real runs on the tiny model, every view (form, progress, result, history, compare,
API) is searched for text that an `overflow: hidden` box cuts (an ellipsis included),
that a one-line box (button, chip, pill, tab) wraps, that spills out of its box, or that
lies on other text; the "Done" toast must leave the result's text readable. The progress
card never shows a time left once the last step is done (decoding and saving follow).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.browser import PHONE
from fixtures.support import LiveServer
from test_workbench import RUN_TIMEOUT_MS, add_pictures, connect, set_advanced, wait_succeeded

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LAPTOP = {"width": 1400, "height": 900}
PROMPT = "Put the mug from Picture 2 on the hill in Picture 1, warm sunset light"

# Every visible text node of the page, checked where it is drawn: cut by an ancestor whose
# overflow is hidden (what scrolls away inside a scroller is not cut), wrapped inside a
# one-line box, sticking out of its box, or lying on another text (sticky and fixed bars
# excepted: they pass over the page by design). Returns one line per problem.
FIND_HIDDEN_TEXT = """() => {
  const problems = [];
  const ONE_LINE = [".btn", ".chip", ".status-pill", ".tile-badge", ".seg", ".tab",
    ".compare-letter", ".conn", ".batch-label"].join(", ");
  const clips = (v) => v === "hidden" || v === "clip";
  const scrolls = (v) => v === "auto" || v === "scroll";
  const name = (el) => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")}`;
  const inner = (el) => {
    const b = el.getBoundingClientRect();
    const l = b.left + el.clientLeft, t = b.top + el.clientTop;
    return { l, t, r: l + el.clientWidth, b: t + el.clientHeight };
  };
  const cut = (rects, box, x, y) => rects.map((r) => ({
    l: x ? Math.max(r.l, box.l) : r.l, r: x ? Math.min(r.r, box.r) : r.r,
    t: y ? Math.max(r.t, box.t) : r.t, b: y ? Math.min(r.b, box.b) : r.b,
  })).filter((r) => r.r - r.l > 0.5 && r.b - r.t > 0.5);
  const outside = (r, box, x, y) =>
    (x && (r.l < box.l - 1 || r.r > box.r + 1)) || (y && (r.t < box.t - 1 || r.b > box.b + 1));
  const blockOf = (el) => {
    while (["inline", "contents"].includes(getComputedStyle(el).display)) el = el.parentElement;
    return el;
  };
  const drawn = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode()); ) {
    const el = node.parentElement;
    const text = node.textContent.trim();
    if (!text || el.closest(".visually-hidden, script, style, select, #toast")) continue;
    if (!el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    let rects = [...range.getClientRects()].filter((r) => r.width > 0.5 && r.height > 0.5)
      .map((r) => ({ l: r.left, r: r.right, t: r.top, b: r.bottom }));
    if (!rects.length) continue;
    const why = new Set();
    const lines = new Set(rects.map((r) => Math.round(r.t))).size;
    if (el.closest(ONE_LINE) && lines > 1) why.add("wraps");
    const block = blockOf(el);
    let pinned = false;
    for (let a = el; a !== document.body; a = a.parentElement) {
      const style = getComputedStyle(a);
      pinned ||= style.position === "sticky" || style.position === "fixed";
      if (scrolls(style.overflowX) || scrolls(style.overflowY)) {
        rects = cut(rects, inner(a), true, true);
        if (!rects.length) break;
        continue;
      }
      const x = clips(style.overflowX), y = clips(style.overflowY);
      if (a === block && !x && !y) {
        const b = a.getBoundingClientRect();
        const box = { l: b.left, r: b.right, t: b.top, b: b.bottom };
        if (rects.some((r) => outside(r, box, true, false))) why.add(`spills out of ${name(a)}`);
      }
      if (!x && !y) continue;
      if (a === el && x && a.scrollWidth > a.clientWidth + 1) {
        why.add(`cut: scrollWidth ${a.scrollWidth} > clientWidth ${a.clientWidth}`);
      }
      if (a === el && y && a.scrollHeight > a.clientHeight + 1) {
        why.add(`cut: scrollHeight ${a.scrollHeight} > clientHeight ${a.clientHeight}`);
      }
      const box = inner(a);
      if (rects.some((r) => outside(r, box, x, y))) why.add(`cut by ${name(a)}`);
      rects = cut(rects, box, x, y);
      if (!rects.length) break;
    }
    const label = `${name(el)} "${text.slice(0, 40)}"`;
    if (why.size) problems.push(`${label}: ${[...why].join("; ")}`);
    if (!pinned) for (const r of rects) drawn.push({ node, label, r });
  }
  for (let i = 0; i < drawn.length; i++) {
    for (let j = i + 1; j < drawn.length; j++) {
      const a = drawn[i], b = drawn[j];
      const w = Math.min(a.r.r, b.r.r) - Math.max(a.r.l, b.r.l);
      const h = Math.min(a.r.b, b.r.b) - Math.max(a.r.t, b.r.t);
      if (a.node !== b.node && w > 2 && h > 2) problems.push(`${a.label} lies on ${b.label}`);
    }
  }
  return [...new Set(problems)];
}"""

# The toast, shown again by the page's own toast() with the text it showed when the run
# ended (the first one may have faded on a slow machine), against the result's texts.
TOAST_OVER_RESULT = """async () => {
  const { toast } = await import("./js/dom.js");
  const host = document.getElementById("toast");
  toast(host.textContent, host.dataset.kind);
  await Promise.all(host.getAnimations().map((a) => a.finished));
  const t = host.getBoundingClientRect();
  const hits = (r) => r.width > 0 && r.height > 0 && r.left < t.right && t.left < r.right
    && r.top < t.bottom && t.top < r.bottom;
  const covered = [];
  const bar = document.querySelector("#stage .stage-bar");
  if (hits(bar.getBoundingClientRect())) covered.push("the result's bar");
  const walker = document.createTreeWalker(document.getElementById("stage"), NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode()); ) {
    if (!node.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    if ([...range.getClientRects()].some(hits)) covered.push(node.textContent.trim());
  }
  return { text: host.textContent, covered };
}"""

# The progress card of a detached Stage for made-up runs: what it says at each point.
PROGRESS_TEXTS = """async () => {
  const { Stage } = await import("./js/stage.js");
  const runs = new Map();
  const stage = new Stage({ runner: { runs, firstSeen: new Map(), cancelOne() {} } });
  const card = (gen) => {
    runs.set(gen.generation_id, gen);
    stage.shownId = gen.generation_id;
    const canvas = stage.progressCanvas(gen);
    clearInterval(stage.tickTimer);
    return canvas.querySelector(".progress-card").textContent;
  };
  const run = { generation_id: "g", status: "processing", width: 1024, height: 1024, seed: 7 };
  return {
    middle: card({ ...run, stage: "denoising", progress: { step: 3, total: 8 }, eta_seconds: 20 }),
    last: card({ ...run, stage: "denoising", progress: { step: 8, total: 8 }, eta_seconds: 39 }),
    decoding: card({ ...run, stage: "decoding", progress: { step: 8, total: 8 }, eta_seconds: 39 }),
    storing: card({ ...run, stage: "storing", progress: { step: 8, total: 8 }, eta_seconds: 3 }),
  };
}"""


def assert_all_text_shown(page, view: str) -> None:
    page.evaluate("() => document.activeElement?.blur?.()")
    problems = page.evaluate(FIND_HIDDEN_TEXT)
    assert not problems, f"{view}: text clipped, wrapped or covered:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("viewport", "scheme"),
    [pytest.param(LAPTOP, "dark", id="1400x900"), pytest.param(PHONE, "light", id="390x844")],
)
def test_no_text_is_clipped_or_covered(
    workbench,
    live_server: LiveServer,
    browser_key: str,
    pictures: list[Path],
    viewport: dict[str, int],
    scheme: str,
) -> None:
    phone = viewport == PHONE
    page, _ = workbench(viewport=viewport, color_scheme=scheme, is_mobile=phone, has_touch=phone)
    connect(page, live_server, browser_key)
    page.fill("#f-prompt", PROMPT)
    add_pictures(page, pictures)
    set_advanced(page, num_inference_steps=100)
    assert_all_text_shown(page, "form")

    page.click("#run-button")
    page.wait_for_function(
        "() => /^Step [1-9]\\d* of 100$/.test("
        "document.querySelector('[data-testid=progress-step]')?.textContent || '')",
        timeout=RUN_TIMEOUT_MS,
    )
    assert_all_text_shown(page, "progress")
    first = wait_succeeded(page)
    page.locator("#stage").scroll_into_view_if_needed()
    assert_all_text_shown(page, "result")
    toast = page.evaluate(TOAST_OVER_RESULT)
    assert toast["text"].startswith("Done"), toast
    assert not toast["covered"], f"the toast {toast['text']!r} covers {toast['covered']}"

    set_advanced(page, num_inference_steps=2, true_cfg_scale=7.5)
    page.click("#run-button")
    second = wait_succeeded(page, previous=first)
    page.click("#tab-history")
    for generation_id in (first, second):
        page.locator(f".hcard[data-id='{generation_id}'] .hcard-check input").check()
    assert_all_text_shown(page, "history")
    page.get_by_role("button", name="Compare (2)").click()
    page.locator(".diff-table").wait_for()
    assert_all_text_shown(page, "compare")
    page.click("#tab-api")
    page.wait_for_selector("pre.code[data-snippet=curl-sync]")
    assert_all_text_shown(page, "API")


def test_progress_says_finishing_not_time_left_after_the_last_step(
    workbench, live_server: LiveServer
) -> None:
    page, _ = workbench()
    page.goto(live_server.base_url + "/workbench/")
    texts = page.evaluate(PROGRESS_TEXTS)
    assert "Step 3 of 8" in texts["middle"] and "About 20 s left" in texts["middle"], texts
    for point in ("last", "decoding", "storing"):
        assert "Step 8 of 8" in texts[point], texts
        assert "left" not in texts[point] and "Finishing…" in texts[point], texts
