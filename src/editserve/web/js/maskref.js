// Masks outside the painter (maskpaint.js): which form property is an edit's mask, and a
// run's stored mask. The server lists a masked run's mask in its input_urls after the
// pictures: helpers that find it (and leave it out of the pictures) for the history,
// compare and the stage, and the small "mask" chip that shows it.

import { h } from "./dom.js";

/** The property the painter stands for: an edit model's `mask`, one image reference
 * (other single-image fields keep their own controls). */
export function isMaskProp(name, prop) {
  return name === "mask" && prop.type === "string" && prop.renderType === "image-url";
}

/** The stored copy of a masked run's mask (a signed link), or null: the server lists it
 * in input_urls after the pictures. */
export function maskUrlOf(gen) {
  const at = maskIndex(gen);
  return at < 0 ? null : gen.input_urls[at];
}

/** A run's input pictures' links, without its mask. */
export function pictureUrlsOf(gen) {
  const at = maskIndex(gen);
  const urls = gen?.input_urls || [];
  // a control's picture comes after the pictures too (before a mask)
  if (gen?.control && Array.isArray(gen.input_image)) return urls.slice(0, gen.input_image.length);
  return at < 0 ? urls : urls.filter((_, i) => i !== at);
}

function maskIndex(gen) {
  const urls = gen?.input_urls || [];
  if (!gen?.mask || !urls.length) return -1;
  const pictures = Array.isArray(gen.input_image) ? gen.input_image.length : urls.length - 1;
  const at = pictures + (gen.control && Array.isArray(gen.input_image) ? 1 : 0); // after a control's picture
  return urls.length > at ? at : -1;
}

/** A small thumbnail marked "mask" (a chip), or null for a run without one. */
export function maskChip(gen, { large = false } = {}) {
  const url = maskUrlOf(gen);
  if (!url) return null;
  return h(
    "span.chip.chip-mask",
    { class: large ? "chip-mask-lg" : "", title: "Masked edit: only the white region was changed", dataset: { testid: "mask-thumb" } },
    h("img", { src: url, alt: "Mask", loading: "lazy", draggable: false }),
    "mask",
  );
}
