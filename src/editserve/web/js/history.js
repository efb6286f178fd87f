// History (from the server, so it survives a reload) and Compare: pick 2–4 runs, see them
// side by side with their parameter differences highlighted, or A/B two of them with the
// slider. Each run is read with its own model's schema (edit or text to image).

import { h, icon, clear, fmtAgo, fmtDuration, fieldLabel, shortId, toast } from "./dom.js";
import { paramsOf, statusLabel, sizeLabel, displayValue, sameValue, runSeconds, resultFilename, inputIdentity, ACTIVE } from "./gen.js";
import { beforeAfter } from "./slider.js";
import { maskChip, pictureUrlsOf } from "./maskpaint.js";
import { controlChip, controlLabel } from "./controlref.js";

const PAGE_SIZE = 24;
const LETTERS = ["A", "B", "C", "D"];

export class HistoryView {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.items = [];
    this.byId = new Map();
    this.extra = new Map(); // runs compared from elsewhere (the edit tree), not on the loaded pages
    this.page = 0;
    this.totalPages = 0;
    this.total = 0;
    this.selected = [];
    this.filter = "";
    this.mode = "list"; // list | compare
    this.onlyDiffs = false;
    this.abMode = false;
    this.loading = false;
    this.error = "";
    this.build();
  }

  build() {
    this.countEl = h("span.muted");
    this.compareBtn = h("button.btn.btn-primary.btn-sm", { type: "button", disabled: true, onclick: () => this.openCompare() }, icon("compare"), h("span", {}, "Compare"));
    this.clearBtn = h("button.btn.btn-ghost.btn-sm", { type: "button", hidden: true, onclick: () => this.setSelection([]) }, "Clear selection");
    this.filterSel = h(
      "select.input.input-sm",
      { "aria-label": "Filter by status", onchange: () => { this.filter = this.filterSel.value; this.reload(); } },
      h("option", { value: "" }, "All runs"),
      h("option", { value: "succeeded" }, "Succeeded"),
      h("option", { value: "failed" }, "Failed"),
      h("option", { value: "cancelled" }, "Cancelled"),
      h("option", { value: "queued,processing" }, "Active"),
    );
    this.toolbar = h(
      "div.toolbar",
      {},
      h("div.toolbar-left", {}, h("h2.section-title", {}, "History"), this.countEl),
      h("div.toolbar-right", {}, this.filterSel, h("button.btn.btn-ghost.btn-sm.btn-icon", { type: "button", "aria-label": "Refresh", title: "Refresh", onclick: () => this.reload() }, icon("refresh")), this.clearBtn, this.compareBtn),
    );
    this.hint = h("p.hint.compare-hint", {}, "Select 2–4 runs to compare them side by side.");
    this.grid = h("ol.history-grid", { "aria-label": "Runs" });
    this.more = h("button.btn.btn-ghost.load-more", { type: "button", hidden: true, onclick: () => this.loadMore() }, "Load more");
    this.listEl = h("div.history-list", {}, this.toolbar, this.hint, this.grid, this.more);
    this.compareEl = h("div.compare", { hidden: true });
    this.root.append(this.listEl, this.compareEl);
  }

  // --- data ----------------------------------------------------------------------------
  async reload() {
    this.page = 0;
    this.items = [];
    this.byId.clear();
    await this.loadMore();
  }

  async loadMore() {
    if (this.loading || !this.app.api.key) return;
    this.loading = true;
    this.more.disabled = true;
    try {
      const data = await this.app.api.history({ page: this.page + 1, pageSize: PAGE_SIZE, status: this.filter || undefined });
      this.page = data.page_number || this.page + 1;
      this.totalPages = data.total_pages || 0;
      this.total = data.total_entries ?? data.count ?? 0;
      for (const gen of data.generations || []) {
        if (this.byId.has(gen.generation_id)) continue;
        this.items.push(gen);
        this.byId.set(gen.generation_id, gen);
      }
      this.error = "";
    } catch (err) {
      this.error = err.message;
    } finally {
      this.loading = false;
      this.more.disabled = false;
      this.render();
      this.app.historyChanged(this.items, this.total);
    }
  }

  /** A generation changed (event or poll): update it in place, or add it on top. */
  upsert(gen) {
    const existing = this.byId.get(gen.generation_id);
    if (existing) {
      Object.assign(existing, gen);
    } else {
      if (this.filter && !this.filter.split(",").includes(gen.status)) return;
      const copy = { ...gen }; // never share objects with the caller
      this.items.unshift(copy);
      this.byId.set(gen.generation_id, copy);
      this.total += 1;
    }
    this.render();
    this.app.historyChanged(this.items, this.total);
  }

  get(id) {
    return this.byId.get(id);
  }

  // --- selection -----------------------------------------------------------------------
  toggle(id) {
    const at = this.selected.indexOf(id);
    if (at >= 0) this.setSelection(this.selected.filter((x) => x !== id));
    else if (this.selected.length >= 4) toast("Compare up to 4 runs at a time", "error");
    else this.setSelection([...this.selected, id]);
  }

  setSelection(ids) {
    this.selected = ids;
    this.render();
  }

  // --- list ----------------------------------------------------------------------------
  render() {
    if (this.mode === "compare") {
      this.renderCompare();
      return;
    }
    const n = this.selected.length;
    this.countEl.textContent = this.total ? `${this.total} run${this.total === 1 ? "" : "s"}` : "";
    this.compareBtn.disabled = n < 2;
    this.compareBtn.lastChild.textContent = n ? `Compare (${n})` : "Compare";
    this.clearBtn.hidden = n === 0;
    this.more.hidden = !(this.page < this.totalPages);
    clear(this.grid);
    if (this.error) {
      this.grid.append(h("li.empty", {}, h("p", {}, `Could not load the history: ${this.error}`)));
      return;
    }
    if (!this.items.length) {
      this.grid.append(h("li.empty", {}, icon("history", "icon-lg"), h("p", {}, this.loading ? "Loading…" : "No runs yet. Your runs will appear here — they are kept by the server, so they survive a reload.")));
      return;
    }
    for (const gen of this.items) this.grid.append(this.card(gen));
  }

  card(gen) {
    const id = gen.generation_id;
    const index = this.selected.indexOf(id);
    const selected = index >= 0;
    const check = h("input", { type: "checkbox", "aria-label": `Select run ${shortId(id)} for comparison` });
    check.checked = selected;
    check.addEventListener("change", () => this.toggle(id));
    const params = paramsOf(gen, this.app.runSchema(gen));
    const chips = [
      this.app.models.length > 1 ? gen.model_name : null,
      params.aspect_ratio,
      sizeLabel(gen),
      gen.seed !== undefined && gen.seed !== null ? `seed ${gen.seed}` : null,
      params.num_inference_steps ? `${params.num_inference_steps} steps` : null,
      params.true_cfg_scale ? `CFG ${params.true_cfg_scale}` : null,
      params.preview ? "preview" : null,
    ].filter(Boolean);
    return h(
      "li.hcard",
      { dataset: { id, status: gen.status }, class: selected ? "selected" : "" },
      h(
        "button.hcard-thumb",
        { type: "button", "aria-label": `Open run ${shortId(id)} in the playground`, onclick: () => this.app.openGeneration(gen) },
        thumb(gen),
        h("span.status-pill", { dataset: { status: gen.status } }, statusLabel(gen)),
      ),
      h("label.hcard-check", { title: "Select for comparison" }, check, selected ? h("span.hcard-letter", {}, LETTERS[index]) : null),
      h(
        "div.hcard-body",
        {},
        h("p.hcard-prompt", { title: gen.prompt || "" }, gen.prompt || "(no prompt)"),
        h("div.chips", {}, chips.map((c) => h("span.chip", {}, c)), maskChip(gen), controlChip(gen)),
        h(
          "div.hcard-foot",
          {},
          h("span.muted", { title: gen.enqueued_at ? new Date(gen.enqueued_at * 1000).toLocaleString() : "" }, fmtAgo(gen.enqueued_at)),
          h("button.btn.btn-link.btn-sm", { type: "button", "aria-label": `Restore the parameters of run ${shortId(id)}`, title: "Restore its parameters in the playground", onclick: () => this.app.restore(gen) }, "Restore", h("span.wide-only", {}, " parameters")),
          this.app.lineage?.button(gen, { link: true }),
          this.app.sweeps?.button(gen, { link: true }),
        ),
      ),
    );
  }

  // --- compare -------------------------------------------------------------------------
  /** Compare runs that may not be on the loaded pages (from the edit tree). */
  compareRuns(gens) {
    for (const gen of gens) if (!this.byId.has(gen.generation_id)) this.extra.set(gen.generation_id, { ...gen });
    this.app.tabs.show("history");
    this.openCompare(gens.map((gen) => gen.generation_id));
  }

  openCompare(ids = this.selected) {
    this.selected = ids.slice(0, 4);
    this.mode = "compare";
    this.abMode = false;
    this.listEl.hidden = true;
    this.compareEl.hidden = false;
    this.render();
    this.compareEl.querySelector("h2")?.focus();
  }

  closeCompare() {
    this.selected = this.selected.filter((id) => this.byId.has(id));
    this.extra.clear();
    this.mode = "list";
    this.compareEl.hidden = true;
    this.listEl.hidden = false;
    this.render();
    this.compareBtn.focus();
  }

  renderCompare() {
    const runs = this.selected.map((id) => this.byId.get(id) || this.extra.get(id)).filter(Boolean);
    clear(this.compareEl);
    const title = h("h2.section-title", { tabindex: "-1" }, `Comparing ${runs.length} runs`);
    const diffToggle = h("input", { type: "checkbox", role: "switch" });
    diffToggle.checked = this.onlyDiffs;
    diffToggle.addEventListener("change", () => {
      this.onlyDiffs = diffToggle.checked;
      this.renderCompare();
    });
    const abButton = runs.length === 2
      ? h("button.btn.btn-ghost.btn-sm", { type: "button", "aria-pressed": String(this.abMode), onclick: () => { this.abMode = !this.abMode; this.renderCompare(); } }, icon("slider"), h("span", {}, this.abMode ? "Side by side" : "A/B slider"))
      : null;
    this.compareEl.append(
      h(
        "div.toolbar",
        {},
        h("div.toolbar-left", {}, h("button.btn.btn-ghost.btn-sm", { type: "button", onclick: () => this.closeCompare() }, icon("left"), h("span", {}, "History")), title),
        h("div.toolbar-right", {}, abButton, h("label.switch.switch-sm", {}, diffToggle, h("span.switch-track", { "aria-hidden": "true" }), h("span.switch-label", {}, "Only differences"))),
      ),
    );

    if (this.abMode && runs.length === 2) {
      const [a, b] = runs;
      const ratio = a.width && a.height ? a.width / a.height : null;
      this.compareEl.append(h("div.compare-ab", {}, beforeAfter({ before: a.result_url, after: b.result_url, beforeLabel: `A · ${shortId(a.generation_id)}`, afterLabel: `B · ${shortId(b.generation_id)}`, ratio })));
    } else {
      const cols = h("div.compare-cols", { dataset: { count: runs.length } });
      runs.forEach((gen, i) =>
        cols.append(
          h(
            "figure.compare-col",
            {},
            h("div.compare-img", {}, thumb(gen, true)),
            h(
              "figcaption",
              {},
              h("span.compare-letter", {}, LETTERS[i]),
              h("span.mono", {}, shortId(gen.generation_id)),
              h("span.status-pill", { dataset: { status: gen.status } }, statusLabel(gen)),
              h("span.spacer"),
              gen.result_url ? h("a.btn.btn-ghost.btn-icon.btn-sm", { href: gen.result_url, download: resultFilename(gen), "aria-label": `Download ${LETTERS[i]}`, title: "Download" }, icon("download")) : null,
              h("button.btn.btn-ghost.btn-icon.btn-sm", { type: "button", "aria-label": `Open ${LETTERS[i]} in the playground`, title: "Open in playground", onclick: () => this.app.openGeneration(gen) }, icon("external")),
            ),
          ),
        ),
      );
      this.compareEl.append(cols);
    }
    this.compareEl.append(this.diffTable(runs));
  }

  diffTable(runs) {
    const rows = [];
    let differing = 0;
    for (const row of compareRows(this.app, runs)) {
      const differs = row.keys.some((v) => !sameValue(v, row.keys[0]));
      if (differs) differing++;
      if (this.onlyDiffs && !differs) continue;
      rows.push(
        h(
          "tr",
          { class: differs ? "differs" : "", dataset: { param: row.name } },
          h("th", { scope: "row" }, row.label, differs ? h("span.diff-dot", { title: "Differs", "aria-label": "differs" }) : null),
          row.cells.map((cell, i) => {
            const changed = differs && !sameValue(row.keys[i], row.keys[0]) && i > 0;
            return h("td", { class: changed ? "changed" : "" }, cell);
          }),
        ),
      );
    }
    // What the server reports about each run (not parameters; never highlighted).
    const infoRows = [
      ["Seed used", (g) => g.seed],
      ["Size", (g) => sizeLabel(g) || "—"],
      ["Run time", (g) => fmtDuration(runSeconds(g))],
      ["Status", (g) => (g.error_message ? `${g.status}: ${g.error_message}` : g.status)],
    ];
    for (const [label, get] of infoRows) {
      if (this.onlyDiffs && label !== "Seed used") continue;
      rows.push(h("tr.info", {}, h("th", { scope: "row" }, label), runs.map((g) => h("td", {}, h("span.cell-text", {}, String(get(g) ?? "—"))))));
    }
    const summary = differing
      ? `${differing} parameter${differing === 1 ? "" : "s"} differ${differing === 1 ? "s" : ""}`
      : "Same parameters (only the seed used may differ)";
    return h(
      "div.diff-wrap",
      {},
      h("p.diff-summary", { dataset: { testid: "diff-summary" } }, summary),
      h(
        "table.diff-table",
        { dataset: { count: runs.length } },
        h("thead", {}, h("tr", {}, h("th", {}, "Parameter"), runs.map((g, i) => h("th", { scope: "col" }, `${LETTERS[i]} · ${shortId(g.generation_id)}`)))),
        h("tbody", {}, rows),
      ),
    );
  }
}

/** The compared parameters: each run read with its own model's schema; every parameter of
 * any of them, in schema order; the model first where the server serves several; the
 * input pictures only where a compared run's model takes pictures (a text-to-image run's
 * cell says it has none). Returns [{name, label, keys, cells}]. */
function compareRows(app, runs) {
  const schemas = runs.map((g) => app.runSchema(g) || {});
  const paramsList = runs.map((g, i) => paramsOf(g, schemas[i]));
  const props = new Map();
  for (const schema of schemas) {
    for (const [name, prop] of Object.entries(schema.properties || {})) if (!props.has(name)) props.set(name, prop);
  }
  const rows = [];
  const models = runs.map((g) => g.model_name || "—");
  if (app.models.length > 1 || models.some((m) => m !== models[0])) {
    rows.push({ name: "model", label: "Model", keys: models, cells: models.map((m) => h("span.cell-text.mono", {}, m)) });
  }
  for (const [name, prop] of props) {
    const values = paramsList.map((p) => p[name]);
    const pictures = name === "input_image";
    const cells = values.map((v, i) => {
      if (pictures) return schemas[i].properties?.[name] ? inputsCell(runs[i]) : h("span.cell-text.muted", {}, "none (text to image)");
      if (name === "mask" && v) return maskChip(runs[i], { large: true }) || h("span.cell-text", {}, displayValue(name, v));
      if (name === "control" && v) return controlChip(runs[i], { large: true }) || h("span.cell-text", {}, controlLabel(v));
      return h("span.cell-text", {}, displayValue(name, v));
    });
    rows.push({ name, label: fieldLabel(name, prop), keys: pictures ? runs.map((g) => inputIdentity({ ...g, input_urls: pictureUrlsOf(g) })) : values, cells });
  }
  return rows;
}

function inputsCell(gen) {
  const urls = pictureUrlsOf(gen); // a masked run's mask is in its own row
  return h(
    "div.inputs-cell",
    {},
    urls.map((url, i) => h("img", { src: url, alt: `Picture ${i + 1}`, title: `Picture ${i + 1}`, loading: "lazy" })),
  );
}

export function thumb(gen, large = false) {
  if (gen.status === "succeeded" && gen.result_url) {
    return h("img", { src: gen.result_url, alt: gen.prompt ? `Result: ${gen.prompt}` : "Result", loading: large ? "eager" : "lazy", draggable: false });
  }
  if (ACTIVE.has(gen.status)) {
    const pct = gen.progress && gen.progress.total ? Math.round((gen.progress.step / gen.progress.total) * 100) : 0;
    const el = h("div.thumb-placeholder.busy", {}, h("span.spinner"), h("span.mini-bar", {}, h("span.mini-fill")));
    el.querySelector(".mini-fill").style.setProperty("--pct", `${pct}%`);
    return el;
  }
  return h("div.thumb-placeholder", { dataset: { status: gen.status } }, icon(gen.status === "failed" ? "warn" : "x", "icon-lg"), h("span", {}, gen.status === "failed" ? "Failed" : "Cancelled"));
}
