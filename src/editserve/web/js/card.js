// The model: the top bar's model select, the model card (name, readiness, chips, about),
// the development-weights banner and the start-up banner. While the model's workers
// start, the card is fetched again to follow them.

import { h, icon, clear, $, fmtCount, toast, copyText } from "./dom.js";
import { renderStartup } from "./startup.js";
import { modelKind } from "./models.js";

const capitalize = (text) => text.charAt(0).toUpperCase() + text.slice(1);
const READINESS = { ready: "Ready", loading: "Loading weights…", no_workers: "No worker running", failed: "Worker failed" };

export class ModelCard {
  constructor(app) {
    this.app = app;
    this.aboutOpen = false;
    this.timer = null;
  }

  populate() {
    const { models } = this.app;
    const select = $("#model-select");
    clear(select);
    for (const model of models) select.append(h("option", { value: model.id }, model.display_name || model.id));
    select.disabled = models.length < 2;
    const wanted = localStorage.getItem("editserve.model");
    const id = models.some((m) => m.id === wanted) ? wanted : models[0]?.id;
    if (!id) return;
    select.value = id;
    select.onchange = () => this.select(select.value);
    this.select(id);
  }

  /** Pick a model: its card, its form (the prompt and what the user changed carry over;
   * pictures wait aside while a text-to-image model is picked), its API calls. The form
   * is read once the card has come, so what was typed meanwhile is kept; a later pick
   * wins over one still waiting for its card. */
  async select(id) {
    const app = this.app;
    const ticket = (this.ticket = (this.ticket || 0) + 1);
    localStorage.setItem("editserve.model", id);
    $("#model-select").value = id;
    let card = app.models.find((m) => m.id === id);
    try {
      card = await app.api.model(id);
    } catch (err) {
      if (!card) {
        toast(`Could not load the model: ${err.message}`, "error");
        return;
      }
    }
    if (ticket !== this.ticket) return;
    const leaving = app.schema ? app.draft.snapshot() : null;
    app.modelId = id;
    this.set(card);
    app.schema = card.json_request_schema || card.request_schema;
    app.kind = modelKind(card);
    $("#main").dataset.kind = app.kind;
    if (app.kind === "edit") localStorage.setItem("editserve.editModel", id);
    app.form.setSchema(app.schema, { loras: card.loras || [] });
    if (leaving) app.draft.carry(leaving);
    else app.draft.applySaved();
    app.stage.render();
    app.apiView.refresh();
  }

  set(card) {
    this.app.card = card;
    const readiness = card.readiness || "unknown";
    this.renderCard(card, readiness);
    this.renderBanner(card);
    renderStartup(card);
    this.app.conn.update();
    clearTimeout(this.timer);
    // while a worker starts, follow its stage closely (downloads report every second)
    if (readiness !== "ready") this.timer = setTimeout(() => this.refresh(), readiness === "loading" ? 2000 : 5000);
  }

  async refresh() {
    if (!this.app.modelId || !this.app.api.key) return;
    try {
      this.set(await this.app.api.model(this.app.modelId));
    } catch {
      this.timer = setTimeout(() => this.refresh(), 10000);
    }
  }

  renderCard(card, readiness) {
    const el = $("#model-card");
    el.hidden = false;
    clear(el);
    const weights = card.weights;
    const readinessText = READINESS[readiness] || readiness;
    const about = h(
      "div.card-about",
      { id: "model-about", hidden: !this.aboutOpen },
      h("p", {}, card.description),
      card.source_model ? h("p.muted", {}, "Source: ", h("span.mono", {}, card.source_model)) : null,
    );
    const aboutButton = h(
      "button.chip.chip-btn.chip-about",
      {
        type: "button",
        "aria-expanded": String(!!this.aboutOpen),
        "aria-controls": "model-about",
        onclick: () => {
          this.aboutOpen = !this.aboutOpen;
          about.hidden = !this.aboutOpen;
          aboutButton.setAttribute("aria-expanded", String(this.aboutOpen));
        },
      },
      "About this model",
    );
    const caps = card.capabilities ? `${(card.capabilities.input || []).join(" + ")} → ${(card.capabilities.output || []).join(", ")}` : null;
    el.append(
      h(
        "div.card-main",
        {},
        h(
          "div.card-title-row",
          {},
          h("h1.card-title", {}, card.display_name || card.id),
          card.summary ? h("p.card-summary", {}, card.summary) : null,
          h("span.readiness", { dataset: { state: readiness }, title: card.readiness_reason || card.stage_text || "" }, h("span.conn-dot"), readinessText),
        ),
        h(
          "div.chips",
          {},
          h("button.chip.chip-btn.mono", { type: "button", title: "Copy model id", onclick: async () => { if (await copyText(card.id)) toast(`Copied ${card.id}`, "ok"); } }, card.id),
          card.parameter_count ? h("span.chip", {}, `${fmtCount(card.parameter_count)} parameters`) : null,
          caps ? h("span.chip", {}, caps) : null,
          card.developer?.name ? h("span.chip", {}, `by ${card.developer.name}`) : null,
          weights ? h("span.chip", { class: weights.is_tiny ? "chip-warn" : "chip-ok", dataset: { testid: "weights-chip" } }, `weights: ${weights.is_tiny ? "tiny random" : weights.source || "?"}${weights.revision ? ` @ ${String(weights.revision).slice(0, 10)}` : ""}${weights.device ? ` · ${weights.device}` : ""}${weights.dtype ? ` · ${weights.dtype}` : ""}`) : null,
          card.description ? aboutButton : null,
        ),
        card.description ? about : null,
      ),
    );
  }

  /** The development-weights banner: shown for tiny random weights or a card's warning. */
  renderBanner(card) {
    const banner = $("#weights-banner");
    const tiny = card.weights?.is_tiny || !!card.warning;
    banner.hidden = !tiny;
    if (!tiny) return;
    // On a phone the long text waits behind "Details" (a short sentence stands for it).
    const more = h("button.banner-more", { type: "button", "aria-expanded": "false" }, "Details");
    banner.onclick = () => more.setAttribute("aria-expanded", String(banner.classList.toggle("expanded")));
    clear(banner).append(
      icon("warn"),
      h(
        "div.banner-text",
        {},
        h("strong", {}, "Development weights loaded. "),
        h("span.banner-short", {}, card.weights?.is_tiny ? "Outputs are noise. " : ""),
        h("span.banner-long", {}, card.warning ? capitalize(card.warning.replace(/^DEVELOPMENT WEIGHTS:\s*/i, "")) : "This server runs a tiny random-weight model: outputs are noise."),
        more,
      ),
    );
  }
}
