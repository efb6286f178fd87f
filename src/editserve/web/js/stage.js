// The output stage: the shown generation's progress (queue position, step, elapsed), its
// result (or, for an edit, a before/after slider against an input) with its actions, or
// how it ended; and, for a run of several outputs, a strip to switch between them.

import { beforeAfter } from "./slider.js";
import { maskChip, pictureUrlsOf } from "./maskpaint.js";
import { controlChip } from "./controlref.js";
import { thumb } from "./history.js";
import { h, icon, clear, $, fmtClock, fmtDuration, toast } from "./dom.js";
import { editModelFor } from "./models.js";
import { layersOf, layersCanvas, downloadAllButton } from "./layers.js";
import { ACTIVE, paramsOf, titleStage, sizeLabel, runSeconds, resultFilename, statusLabel, progressNote } from "./gen.js";

export class Stage {
  constructor(app) {
    this.app = app;
    this.shownId = null;
    this.mode = "result"; // result | before-after
    this.beforeIndex = 0;
    this.tickTimer = null;
    this.parts = {}; // the elements that live updates write to
    this.hiddenLayers = new Set(); // a layered result's layers hidden in its stack
  }

  showGeneration(gen) {
    const { runs } = this.app.runner;
    runs.set(gen.generation_id, { ...(runs.get(gen.generation_id) || {}), ...gen });
    if (this.shownId !== gen.generation_id) this.hiddenLayers = new Set();
    this.shownId = gen.generation_id;
    this.mode = "result";
    this.beforeIndex = 0;
    this.render();
    if (ACTIVE.has(gen.status)) this.app.runner.schedulePoll(200);
  }

  /** From history: show it on the playground's stage. */
  openGeneration(gen) {
    this.app.tabs.show("playground");
    this.showGeneration(gen);
    $("#stage").scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  isBatchShown(id) {
    const batch = this.app.runner.batches.get(this.shownId);
    return !!batch && batch.includes(id);
  }

  render() {
    const stage = $("#stage");
    clear(stage);
    clearInterval(this.tickTimer);
    this.parts = {};
    const gen = this.shownId && this.app.runner.runs.get(this.shownId);
    if (!gen) {
      stage.dataset.state = "empty";
      stage.append(this.app.kind === "generate" ? emptyGenerateCanvas() : emptyCanvas());
      return;
    }
    stage.dataset.state = gen.status;
    stage.dataset.generationId = gen.generation_id;
    if (ACTIVE.has(gen.status)) stage.append(this.progressCanvas(gen));
    else if (gen.status === "succeeded") stage.append(this.resultCanvas(gen), this.resultBar(gen));
    else stage.append(this.endedCanvas(gen));
    const strip = h("div.batch-strip-host");
    stage.append(strip);
    this.parts.strip = strip;
    this.renderBatchStrip();
  }

  progressCanvas(gen) {
    const bar = h("div.progress", { role: "progressbar", "aria-label": "Progress", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" }, h("div.progress-fill"));
    const step = h("div.progress-step", { dataset: { testid: "progress-step" } });
    const stageLabel = h("div.progress-stage");
    const elapsed = h("span.progress-elapsed", { dataset: { testid: "elapsed" } });
    const extra = h("span.progress-extra");
    const cancel = h("button.btn.btn-danger.btn-sm", { type: "button", onclick: () => this.app.runner.cancelOne(gen.generation_id) }, icon("stop"), h("span", {}, "Cancel"));
    const bg = gen.input_urls?.[0] ? h("img.stage-bg", { src: gen.input_urls[0], alt: "", "aria-hidden": "true" }) : null;
    const canvas = h(
      "div.stage-canvas.stage-progress",
      {},
      bg,
      h(
        "div.progress-card",
        {},
        h("div.progress-top", {}, h("span.pulse", { "aria-hidden": "true" }), stageLabel, h("span.spacer"), elapsed),
        step,
        bar,
        h("div.progress-bottom", {}, extra, h("span.spacer"), cancel),
      ),
    );
    this.parts.progress = { bar, step, stageLabel, elapsed, extra };
    this.updateProgress(gen);
    this.tickTimer = setInterval(() => this.tick(), 250);
    return canvas;
  }

  updateProgress(gen) {
    const p = this.parts.progress;
    if (!p) return;
    const progress = gen.progress;
    let pct = 0;
    if (gen.status === "queued") {
      p.stageLabel.textContent = "Queued";
      p.step.textContent = gen.queue_position ? `Position ${gen.queue_position} in the queue` : "Waiting for a worker";
    } else {
      p.stageLabel.textContent = titleStage(gen.stage) || "Starting";
      if (progress && progress.total) {
        pct = (progress.step / progress.total) * 100;
        p.step.textContent = `Step ${progress.step} of ${progress.total}`;
      } else {
        p.step.textContent = gen.stage === "denoising" ? "Denoising" : "Preparing";
      }
    }
    p.extra.textContent = progressNote(gen);
    p.bar.classList.toggle("indeterminate", !(progress && progress.total));
    p.bar.setAttribute("aria-valuenow", String(Math.round(pct)));
    p.bar.dataset.step = progress ? String(progress.step) : "";
    p.bar.dataset.total = progress ? String(progress.total) : "";
    p.bar.firstChild.style.setProperty("--pct", `${pct}%`);
    this.tick();
  }

  tick() {
    const gen = this.app.runner.runs.get(this.shownId);
    const p = this.parts.progress;
    if (!gen || !p) return;
    const since = gen.status === "queued" ? (gen.enqueued_at ? gen.enqueued_at * 1000 : null) : this.app.runner.firstSeen.get(gen.generation_id) || (gen.started_at ? gen.started_at * 1000 : null);
    const seconds = since ? (Date.now() - since) / 1000 : 0;
    p.elapsed.textContent = `${fmtClock(seconds)} ${gen.status === "queued" ? "waiting" : "elapsed"}`;
  }

  resultCanvas(gen) {
    if (layersOf(gen)) return layersCanvas(gen, this.hiddenLayers);
    const inputs = pictureUrlsOf(gen); // not a masked run's mask
    if (this.mode === "before-after" && inputs.length) {
      const index = Math.min(this.beforeIndex, inputs.length - 1);
      const ratio = gen.width && gen.height ? gen.width / gen.height : null;
      const picker = inputs.length > 1
        ? h(
            "div.segmented.segmented-compact.ba-picker",
            { role: "radiogroup", "aria-label": "Compare with" },
            inputs.map((_, i) => {
              const input = h("input.visually-hidden", { type: "radio", name: "ba-input", id: `ba-input-${i}`, value: String(i) });
              input.checked = i === index;
              input.addEventListener("change", () => {
                this.beforeIndex = i;
                this.render();
                $("#ba-input-" + i)?.focus();
              });
              return h("label.seg", { for: `ba-input-${i}` }, input, h("span", {}, `Picture ${i + 1}`));
            }),
          )
        : null;
      return h("div.stage-canvas.stage-ba", {}, beforeAfter({ before: inputs[index], after: gen.result_url, beforeLabel: `Picture ${index + 1}`, afterLabel: "Output", ratio }), picker);
    }
    const img = h("img.stage-img", { src: gen.result_url, alt: gen.prompt ? `Output: ${gen.prompt}` : "Output", dataset: { testid: "result-image" } });
    if (gen.width && gen.height) img.style.setProperty("--r", String(gen.width / gen.height));
    return h("div.stage-canvas.stage-result", {}, h("a.stage-img-link", { href: gen.result_url, target: "_blank", rel: "noopener noreferrer", title: "Open full size" }, img));
  }

  resultBar(gen) {
    const { form } = this.app;
    const params = paramsOf(gen, this.app.runSchema(gen));
    // Before/after needs an input: a text-to-image run has none; a layered one shows its
    // stack instead ("Use as input" takes its first layer, the result_url).
    const layered = !!layersOf(gen);
    const hasInputs = (gen.input_urls || []).length > 0 && this.app.runKind(gen) === "edit" && !layered;
    const ba = this.mode === "before-after";
    const chips = [
      this.app.models.length > 1 ? gen.model_name : null,
      sizeLabel(gen),
      gen.seed !== undefined && gen.seed !== null ? `seed ${gen.seed}` : null,
      params.num_inference_steps ? `${params.num_inference_steps} steps` : null,
      params.true_cfg_scale ? `CFG ${params.true_cfg_scale}` : null,
      runSeconds(gen) ? fmtDuration(runSeconds(gen)) : null,
    ].filter(Boolean);
    return h(
      "div.stage-bar",
      {},
      h("div.stage-meta", {}, h("p.stage-prompt", { title: gen.prompt || "" }, gen.prompt || ""), h("p.stage-facts", {}, chips.map((chip) => h("span", {}, chip)), maskChip(gen), controlChip(gen))),
      h(
        "div.stage-actions",
        {},
        hasInputs ? h("button.btn.btn-ghost.btn-sm", { type: "button", "aria-label": "Before / after", title: "Compare with an input", "aria-pressed": String(ba), onclick: () => { this.mode = ba ? "result" : "before-after"; this.render(); } }, icon("slider"), h("span", {}, "Before / after")) : null,
        this.reuseControl(gen),
        this.app.lineage?.button(gen),
        this.app.sweeps?.button(gen),
        gen.seed !== undefined && gen.seed !== null ? h("button.btn.btn-ghost.btn-sm", { type: "button", "aria-label": "Reuse seed", title: "Lock the seed to this run's", onclick: () => { form.lockSeed(gen.seed); toast(`Seed locked to ${gen.seed}`, "ok"); } }, icon("lock"), h("span", {}, "Reuse seed")) : null,
        layered
          ? downloadAllButton(gen, resultFilename(gen).replace(/\.[^.]*$/, ""))
          : h("a.btn.btn-primary.btn-sm", { href: gen.result_url, download: resultFilename(gen), "aria-label": "Download", dataset: { testid: "download" } }, icon("download"), h("span", {}, "Download")),
      ),
    );
  }

  /** "Use as input": a menu (replace / add) on an edit model's form; on a text-to-image
   * model's, a button that picks an edit model with this output as Picture 1; none
   * where no edit model is served. */
  reuseControl(gen) {
    const { draft, form, models } = this.app;
    if (!form.imageField) {
      const edit = editModelFor(models);
      if (!edit) return null;
      const label = `Edit this picture with ${edit.display_name || edit.id}`;
      return h("button.btn.btn-ghost.btn-sm", { type: "button", "aria-label": label, title: `${label} (it becomes Picture 1)`, dataset: { testid: "edit-output" }, onclick: () => draft.useAsInput(gen, "replace") }, icon("reuse"), h("span", {}, "Edit this picture"));
    }
    return h(
      "details.menu",
      {},
      h("summary.btn.btn-ghost.btn-sm", { "aria-label": "Use output as input", title: layersOf(gen) ? "Use layer 1 as an input" : "Use the output as an input" }, icon("reuse"), h("span", {}, "Use as input")),
      h(
        "div.menu-list",
        { role: "menu" },
        h("button.menu-item", { type: "button", role: "menuitem", onclick: (e) => { e.target.closest("details").open = false; draft.useAsInput(gen, "replace"); } }, h("strong", {}, "Replace the inputs"), h("span.muted", {}, "Keep editing this output as Picture 1")),
        h("button.menu-item", { type: "button", role: "menuitem", onclick: (e) => { e.target.closest("details").open = false; draft.useAsInput(gen, "add"); } }, h("strong", {}, "Add as next picture"), h("span.muted", {}, "Combine it with the current inputs")),
      ),
    );
  }

  endedCanvas(gen) {
    const failed = gen.status === "failed";
    return h(
      "div.stage-canvas.stage-ended",
      {},
      h(
        "div.ended-card",
        { role: failed ? "alert" : "status" },
        icon(failed ? "warn" : "x", "icon-xl"),
        h("h2", {}, failed ? "The run failed" : "Cancelled"),
        gen.error_message ? h("p.ended-error", {}, gen.error_message) : null,
        h("div.ended-actions", {}, h("button.btn.btn-ghost.btn-sm", { type: "button", onclick: () => this.app.draft.restore(gen) }, icon("reuse"), h("span", {}, "Restore parameters"))),
      ),
    );
  }

  renderBatchStrip() {
    const host = this.parts.strip;
    if (!host) return;
    clear(host);
    const { runs, batches } = this.app.runner;
    const batch = batches.get(this.shownId);
    if (!batch || batch.length < 2) return;
    host.append(
      h(
        "ol.batch-strip",
        { "aria-label": "Outputs of this run" },
        batch.map((id, i) => {
          const g = runs.get(id) || { generation_id: id, status: "queued" };
          return h(
            "li",
            {},
            h("button.batch-item", { type: "button", "aria-current": id === this.shownId ? "true" : null, "aria-label": `Output ${i + 1}: ${g.status}`, onclick: () => this.showGeneration(g) }, thumb(g), h("span.batch-label", {}, statusLabel(g))),
          );
        }),
      ),
    );
  }
}

function emptyGenerateCanvas() {
  return h(
    "div.stage-canvas.stage-empty",
    {},
    h("div.empty-art", { "aria-hidden": "true" }, icon("wand", "icon-xl")),
    h("h2", {}, "Your picture appears here"),
    h("p.muted", {}, "Describe the picture, pick its aspect ratio, and press ", h("kbd", {}, "Run"), "."),
    h(
      "ul.empty-tips",
      {},
      h("li", {}, "Text to render in the picture goes in quotes."),
      h("li", {}, "Run ×2–×4 to get several pictures to choose from."),
      h("li", {}, "Open ", h("strong", {}, "API"), " for the same call as cURL or Python."),
    ),
  );
}

function emptyCanvas() {
  return h(
    "div.stage-canvas.stage-empty",
    {},
    h("div.empty-art", { "aria-hidden": "true" }, icon("wand", "icon-xl")),
    h("h2", {}, "Your edit appears here"),
    h("p.muted", {}, "Add up to three pictures, describe the change, and press ", h("kbd", {}, "Run"), "."),
    h(
      "ul.empty-tips",
      {},
      h("li", {}, "Refer to inputs as ", h("em", {}, "Picture 1"), ", ", h("em", {}, "Picture 2"), ", ", h("em", {}, "Picture 3"), "."),
      h("li", {}, "Paste an image (", h("kbd", {}, "Ctrl V"), ") or drop it on the form."),
      h("li", {}, "Open ", h("strong", {}, "API"), " for the same call as cURL or Python."),
    ),
  );
}
