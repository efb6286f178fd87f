// Before/after: two images stacked, the "after" one clipped at a divider the user drags
// (pointer) or moves with the arrow keys (it is a real range input underneath).

import { h } from "./dom.js";

export function beforeAfter({ before, after, beforeLabel = "Before", afterLabel = "After", ratio = null, value = 50 }) {
  const beforeImg = h("img.ba-img", { src: before, alt: beforeLabel, draggable: false, referrerpolicy: "no-referrer" });
  const afterImg = h("img.ba-img.ba-after", { src: after, alt: afterLabel, draggable: false, referrerpolicy: "no-referrer" });
  const handle = h("div.ba-handle", { "aria-hidden": "true" }, h("span.ba-knob"));
  const range = h("input.ba-range", {
    type: "range",
    min: 0,
    max: 100,
    step: 0.5,
    value,
    "aria-label": `Divider between ${beforeLabel} (left) and ${afterLabel} (right)`,
  });
  const frame = h(
    "div.ba",
    { dataset: { testid: "before-after" } },
    beforeImg,
    afterImg,
    handle,
    h("span.ba-tag.ba-tag-left", {}, beforeLabel),
    h("span.ba-tag.ba-tag-right", {}, afterLabel),
    range,
  );
  if (ratio) frame.style.setProperty("--r", String(ratio));
  const paint = () => frame.style.setProperty("--pos", `${range.value}%`);
  range.addEventListener("input", paint);
  paint();

  // Dragging anywhere on the frame moves the divider (the range alone is a thin target).
  let dragging = false;
  const moveTo = (clientX) => {
    const box = frame.getBoundingClientRect();
    const pct = ((clientX - box.left) / box.width) * 100;
    range.value = String(Math.max(0, Math.min(100, pct)));
    paint();
  };
  frame.addEventListener("pointerdown", (e) => {
    dragging = true;
    frame.setPointerCapture(e.pointerId);
    moveTo(e.clientX);
    range.focus({ preventScroll: true });
  });
  frame.addEventListener("pointermove", (e) => dragging && moveTo(e.clientX));
  frame.addEventListener("pointerup", () => (dragging = false));
  frame.addEventListener("pointercancel", () => (dragging = false));
  frame.setValue = (v) => {
    range.value = String(v);
    paint();
  };
  return frame;
}
