// Helpers over generation objects (GET /api/ai/queue/{id}, history items).

import { fmtDuration } from "./dom.js";

export const ACTIVE = new Set(["queued", "processing"]);
export const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

// Known parameter names in display order; anything else the schema adds follows.
const PARAM_ORDER = [
  "prompt",
  "input_image",
  "aspect_ratio",
  "negative_prompt",
  "output_format",
  "seed",
  "num_inference_steps",
  "true_cfg_scale",
  "preview",
];

/** The request parameters a generation echoes, keyed like the schema; never a sweep's
 * record (`sweep`): a cell's own parameters reproduce that cell alone. */
export function paramsOf(gen, schema) {
  const names = schema?.properties ? Object.keys(schema.properties) : PARAM_ORDER;
  const params = {};
  for (const name of names) {
    if (name === "sweep") continue;
    if (gen[name] !== undefined && gen[name] !== null) params[name] = gen[name];
  }
  return params;
}

export function runSeconds(gen) {
  const t = gen.timings;
  if (t && typeof t === "object") {
    // `total` when the worker reports it; else the model's own time plus the worker's
    // steps around it (the queue wait is not run time).
    if (typeof t.total === "number") return t.total;
    if (typeof t.inference === "number") return t.inference + (t.input_decode || 0) + (t.encode_store || 0);
  }
  if (gen.started_at && gen.completed_at) return gen.completed_at - gen.started_at;
  return null;
}

/** What makes two runs' inputs "the same": the stored copies (content-addressed keys,
 * without the signature) when the server reports them, else the references sent. */
export function inputIdentity(gen) {
  if (Array.isArray(gen.input_urls) && gen.input_urls.length) {
    return gen.input_urls.map((url) => String(url).split("?")[0]);
  }
  return gen.input_image ?? null;
}

export function statusLabel(gen) {
  switch (gen.status) {
    case "queued":
      return gen.queue_position ? `Queued · #${gen.queue_position}` : "Queued";
    case "processing":
      return gen.progress ? `Step ${gen.progress.step}/${gen.progress.total}` : titleStage(gen.stage) || "Starting";
    case "succeeded":
      return fmtDuration(runSeconds(gen));
    case "failed":
      return "Failed";
    case "cancelled":
      return "Cancelled";
    default:
      return gen.status || "";
  }
}

export function titleStage(stage) {
  if (!stage) return "";
  const known = {
    starting: "Starting",
    loading: "Loading model",
    encoding: "Encoding prompt",
    encode: "Encoding prompt",
    denoising: "Denoising",
    denoise: "Denoising",
    decoding: "Decoding",
    decode: "Decoding",
    storing: "Saving",
    store: "Saving",
  };
  return known[stage] || stage.charAt(0).toUpperCase() + stage.slice(1).replace(/_/g, " ");
}

// After the last denoising step the worker decodes and saves: no step count to go by.
const FINISHING = new Set(["decoding", "decode", "storing", "store"]);

/** The progress card's note: when a queued run should start, the time left while it
 * denoises, "Finishing…" once the last step is done (an ETA would not be true then). */
export function progressNote(gen) {
  if (gen.status === "queued") return gen.eta_seconds ? `Starts in about ${fmtDuration(gen.eta_seconds)}` : "";
  const { step, total } = gen.progress || {};
  if ((total && step >= total) || FINISHING.has(gen.stage)) return "Finishing…";
  if (gen.eta_seconds) return `About ${fmtDuration(gen.eta_seconds)} left`;
  return sizeLabel(gen) ? `${sizeLabel(gen)} · seed ${gen.seed ?? "…"}` : "";
}

export function sizeLabel(gen) {
  return gen.width && gen.height ? `${gen.width}×${gen.height}` : "";
}

/** Display value of one parameter for tables. */
export function displayValue(name, value) {
  if (value === undefined || value === null) return "—";
  if (Array.isArray(value)) return value.length ? value.join("\n") : "—";
  if (typeof value === "boolean") return value ? "on" : "off";
  if (name === "negative_prompt" && value === " ") return "“ ” (blank, CFG on)";
  return String(value);
}

export function sameValue(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** The file name a download of this result should get. */
export function resultFilename(gen) {
  const ext = gen.output_format || (gen.result_url && gen.result_url.split("?")[0].split(".").pop()) || "png";
  return `editserve-${String(gen.generation_id).slice(0, 8)}.${ext}`;
}
