// The start-up banner: where the model's workers are — downloading (bytes of total),
// loading (component k of n), applying options, warming up, or failed with the reason —
// from the stage fields of the model card (the workers report them through the store).

import { h, icon, clear, $ } from "./dom.js";

const TITLES = {
  starting: "Starting a worker",
  downloading: "Downloading the weights",
  loading: "Loading the model",
  applying_options: "Applying the speed and memory options",
  warming_up: "Warming up",
  failed: "The model did not start",
};

/** 0..1 when the stage's figures say how far along it is, else null. */
export function stageFraction(detail) {
  if (!detail) return null;
  for (const [done, total] of [["bytes_done", "bytes_total"], ["index", "count"], ["run", "runs"]]) {
    if (typeof detail[total] === "number" && detail[total] > 0) return Math.min(1, Math.max(0, (detail[done] || 0) / detail[total]));
  }
  return null;
}

function banner() {
  let el = $("#startup-banner");
  if (!el) {
    el = h("div#startup-banner.banner.banner-startup", { role: "status", "aria-live": "polite", hidden: true });
    $("#weights-banner").after(el);
  }
  return el;
}

/** Show (or hide) the banner for a model card; returns the banner element. */
export function renderStartup(card) {
  const el = banner();
  const stage = card?.stage;
  const failed = card?.readiness === "failed";
  el.hidden = !stage || card.readiness === "ready";
  if (el.hidden) return el;
  el.dataset.stage = stage;
  el.classList.toggle("banner-danger", failed);
  const fraction = failed ? null : stageFraction(card.stage_detail);
  const starting = (card.worker_stages || []).filter((w) => w.stage !== "ready" && w.stage !== "failed").length;
  clear(el).append(
    icon(failed ? "warn" : "refresh", failed ? "" : "spin"),
    h(
      "div.banner-text",
      {},
      h("strong", {}, `${TITLES[stage] || "Starting"}: `),
      failed ? card.readiness_reason || card.stage_text : card.stage_text || stage,
      starting > 1 ? h("span.muted", {}, ` · ${starting} workers starting`) : null,
    ),
    fraction === null
      ? null
      : h("progress.startup-progress", { max: 100, value: Math.round(fraction * 100), "aria-label": `${TITLES[stage] || stage}: ${Math.round(fraction * 100)}%` }),
  );
  return el;
}
