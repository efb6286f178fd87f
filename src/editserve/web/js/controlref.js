// Control maps outside the panel (control.js): which form property is an edit's
// `control`, a type's options as the schema lists them, a run's control picture among
// its input_urls, and the small "map (canny)" chip that shows the map a run used
// (control_map_url) in the result's details, History and compare.

import { h } from "./dom.js";

export const CONTROL_TYPES = ["canny", "lineart", "scribble", "gray", "depth", "pose"];

export const TYPE_LABELS = {
  canny: "Canny edges",
  lineart: "Line art",
  scribble: "Scribble",
  gray: "Grayscale",
  depth: "Depth",
  pose: "Pose",
};

// Whose option each is, when the schema's words do not say ("canny only: …").
const OWNERS = {
  low_threshold: "canny",
  high_threshold: "canny",
  block_size: "lineart",
  offset: "lineart",
  thickness: "scribble",
  detection_threshold: "pose",
  keypoint_threshold: "pose",
  max_people: "pose",
};

const COMMON = new Set(["type", "image", "preprocess"]);

/** The property the control panel stands for: an edit model's `control` object. */
export function isControlProp(prop) {
  return prop?.renderType === "control" && prop.type === "object";
}

/** The types the schema offers (its `type` enum), in its order. */
export function controlTypes(prop) {
  return prop?.properties?.type?.enum || CONTROL_TYPES;
}

/** One type's options: [{name, prop, default}] from the schema's properties. */
export function typeOptions(prop, type) {
  const options = [];
  for (const [name, option] of Object.entries(prop?.properties || {})) {
    if (COMMON.has(name)) continue;
    const words = option.description || "";
    const owner = /^(\w+) only:/.exec(words)?.[1] || OWNERS[name];
    if (owner !== type) continue;
    const fallback = /\(default ([-\d.]+)\)/.exec(words);
    options.push({ name, prop: option, default: option.default ?? (fallback ? Number(fallback[1]) : undefined) });
  }
  return options;
}

/** A run's control picture (the map's source, or the map given ready): the server
 * stores it after the input pictures (and before a mask). */
export function controlSourceUrlOf(gen) {
  const urls = gen?.input_urls || [];
  if (!gen?.control || !Array.isArray(gen.input_image)) return null;
  return urls[gen.input_image.length] || null;
}

/** "canny" → "map (canny)". */
export function controlLabel(control) {
  const type = typeof control === "object" && control ? control.type : control;
  return type ? `map (${type})` : "map";
}

/** A small thumbnail of the map a run used, marked "map (canny)"; null without one. */
export function controlChip(gen, { large = false } = {}) {
  const url = gen?.control_map_url;
  if (!url) return null;
  const type = gen.control?.type || gen.receipt?.control_type || "";
  return h(
    "span.chip.chip-mask.chip-control",
    {
      class: large ? "chip-mask-lg" : "",
      title: `Control map${type ? ` (${TYPE_LABELS[type] || type})` : ""}: the last picture the model was given`,
      dataset: { testid: "control-thumb" },
    },
    h("img", { src: url, alt: `Control map (${type})`, loading: "lazy", draggable: false }),
    controlLabel(type),
  );
}

/** low_threshold → "Low threshold". */
export function optionLabel(name) {
  return name.charAt(0).toUpperCase() + name.slice(1).replace(/_/g, " ");
}
