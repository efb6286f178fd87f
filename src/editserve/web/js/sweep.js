// A sweep's contact sheet ("Contact sheet", from the stage's result and from history cards of
// a sweep's cells): the cells of one POST /api/ai/queue with `sweep` laid out as a grid, the
// first axis as rows and the second as columns (one axis: a single row; more: one grid per
// combination of the others, titled by their values). Each cell shows its result (or its
// status while it waits or runs, kept fresh by the event stream and a poll) and the values
// it ran with, read from its own receipt. A cell opens on the stage; 2–4 picked cells open in
// History's compare view; "Reuse parameters" puts one cell's parameters in the form (without
// `sweep`: a run makes that cell alone).

import { h, icon, clear, shortId, toast } from "./dom.js";
import { ACTIVE, TERMINAL, statusLabel } from "./gen.js";

const MAX_COMPARE = 4;
const POLL_MS = 1500;
const EVENTS = ["media_generation_started", "media_generation_progress", "media_generation_completed", "media_generation_cancelled"];
const SHORT = { seed: "seed", true_cfg_scale: "CFG", num_inference_steps: "steps" };

/** A generation's sweep record (its `sweep` field), or null when it is no sweep's cell. */
export function sweepOf(gen) {
  const sweep = gen?.sweep;
  if (!sweep || !Array.isArray(sweep.axes) || !sweep.axes.length) return null;
  return Array.isArray(sweep.generation_ids) && sweep.generation_ids.length ? sweep : null;
}

/** An axis's name as the API spells it: `lora_scales.<path>` for a LoRA's scales. */
export function axisName(axis) {
  return axis.lora ? `${axis.axis}.${axis.lora}` : axis.axis;
}

function shortName(axis) {
  if (axis.lora) return `LoRA ${axis.lora.split("/").pop()}`;
  return SHORT[axis.axis] || axis.axis;
}

/** A cell's position along every axis from its index (row-major, the last axis fastest). */
export function positionOf(index, axes) {
  const position = [];
  for (let a = axes.length - 1; a >= 0; a--) {
    const n = axes[a].values.length;
    position[a] = index % n;
    index = Math.floor(index / n);
  }
  return position;
}

/** The cell index at a position (the inverse of positionOf). */
export function indexOf(position, axes) {
  return position.reduce((index, at, a) => index * axes[a].values.length + at, 0);
}

/** The grids of a sweep: [{title: [[axis, value index], …], rows: [[cell index, …], …]}];
 * rows: the first axis (a single row for one axis), columns: the second. */
export function sheetsOf(sweep) {
  const { axes } = sweep;
  const rowAxis = axes.length > 1 ? 0 : null;
  const colAxis = axes.length > 1 ? 1 : 0;
  const rest = axes.slice(2);
  const combos = rest.reduce((acc, axis) => acc.flatMap((combo) => axis.values.map((_, i) => [...combo, i])), [[]]);
  return combos.map((combo) => {
    const nRows = rowAxis === null ? 1 : axes[rowAxis].values.length;
    const rows = [];
    for (let r = 0; r < nRows; r++) {
      rows.push(axes[colAxis].values.map((_, c) => indexOf(rowAxis === null ? [c] : [r, c, ...combo], axes)));
    }
    return { title: combo.map((at, i) => [axes[i + 2], at]), rows };
  });
}

/** The value a cell ran with along an axis: its receipt's, else its parameters', else the
 * sweep's record of the cell. */
export function cellValue(gen, axis, fallback) {
  const receipt = gen?.receipt || {};
  let value;
  if (axis.lora) value = (receipt.loras || gen?.loras || []).find((l) => l && l.path === axis.lora)?.scale;
  else if (axis.axis === "seed") value = receipt.seed ?? gen?.seed;
  else if (axis.axis === "true_cfg_scale") value = receipt.true_cfg_scale ?? gen?.true_cfg_scale;
  else if (axis.axis === "num_inference_steps") value = receipt.steps ?? gen?.num_inference_steps;
  else value = gen?.[axis.axis];
  return value ?? fallback;
}

export class SweepView {
  constructor(app) {
    this.app = app;
    this.dialog = null;
    this.sweep = null; // the sweep record drawn
    this.asked = null; // the cell it was opened from
    this.cells = new Map(); // generation_id → its latest generation object
    this.slots = new Map(); // generation_id → its grid cell (td)
    this.picked = [];
    this.ticket = 0;
    this.timer = null;
    this.unsubscribe = [];
  }

  /** The "Contact sheet" button of a sweep's cell (none for other runs); `link`: the
   * history card's text-link style. */
  button(gen, { link = false } = {}) {
    const sweep = sweepOf(gen);
    if (!sweep) return null;
    const attrs = { type: "button", "aria-label": `Contact sheet of the sweep of run ${shortId(gen.generation_id)}`, title: `The sweep's ${sweep.generation_ids.length} cells as a grid`, dataset: { testid: "sweep-open" }, onclick: () => this.open(gen) };
    if (link) return h("button.btn.btn-link.btn-sm.sweep-link", attrs, "Contact sheet");
    return h("button.btn.btn-ghost.btn-sm", attrs, icon("grid"), h("span", {}, "Contact sheet"));
  }

  open(gen) {
    this.ensureDialog();
    this.stop();
    const ticket = ++this.ticket;
    Object.assign(this, { sweep: sweepOf(gen), asked: gen.generation_id, picked: [] });
    this.cells = new Map();
    for (const id of this.sweep.generation_ids) {
      const known = id === gen.generation_id ? gen : this.app.history?.get(id) || this.app.runner?.runs.get(id);
      if (known && known.sweep) this.cells.set(id, known);
    }
    this.render();
    if (!this.dialog.open) this.dialog.showModal();
    this.follow(ticket);
    this.poll(ticket);
  }

  close() {
    if (this.dialog?.open) this.dialog.close();
  }

  stop() {
    this.ticket++;
    clearTimeout(this.timer);
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
  }

  /** Live status: the event stream for each cell's steps and end, a poll as a safety net. */
  follow(ticket) {
    const { stream } = this.app;
    if (!stream?.on) return;
    for (const type of EVENTS) {
      this.unsubscribe.push(stream.on(type, (data) => {
        const id = data?.generation_id;
        if (ticket !== this.ticket || !this.slots.has(id)) return;
        if (type === "media_generation_completed" || type === "media_generation_cancelled") {
          this.refresh([id], ticket);
          return;
        }
        const gen = this.cells.get(id);
        if (!gen || TERMINAL.has(gen.status)) return;
        const progress = typeof data.step === "number" && typeof data.total === "number" ? { step: data.step, total: data.total } : gen.progress;
        this.update({ ...gen, status: "processing", stage: data.stage || gen.stage, progress });
      }));
    }
  }

  async refresh(ids, ticket) {
    await Promise.all(ids.map(async (id) => {
      try {
        const gen = await this.app.api.generation(id);
        if (ticket === this.ticket) this.update(gen);
      } catch (err) {
        if (ticket === this.ticket && !this.cells.has(id)) this.update({ generation_id: id, status: "failed", error_message: err.message });
      }
    }));
  }

  /** Every cell once, then the unfinished ones again until all have ended. */
  async poll(ticket, ids = this.sweep.generation_ids) {
    await this.refresh(ids, ticket);
    if (ticket !== this.ticket) return;
    const active = this.sweep.generation_ids.filter((id) => !this.cells.has(id) || ACTIVE.has(this.cells.get(id).status));
    if (active.length) this.timer = setTimeout(() => this.poll(ticket, active), POLL_MS);
  }

  update(gen) {
    const id = gen.generation_id;
    const previous = this.cells.get(id);
    if (previous && TERMINAL.has(previous.status) && !TERMINAL.has(gen.status)) return;
    this.cells.set(id, { ...(previous || {}), ...gen });
    const slot = this.slots.get(id);
    if (slot) this.fillCell(slot, id);
    this.renderTitle();
  }

  ensureDialog() {
    if (this.dialog) return;
    this.title = h("h2#sweep-title", {}, "Contact sheet");
    this.body = h("div.sweep-body");
    this.compareBtn = h("button.btn.btn-primary.btn-sm", { type: "button", disabled: true, dataset: { testid: "sweep-compare" }, onclick: () => this.compare() }, icon("compare"), h("span", {}, "Compare"));
    this.dialog = h(
      "dialog.dialog.sweep-dialog",
      { "aria-labelledby": "sweep-title", dataset: { testid: "sweep" } },
      h(
        "div.dialog-body",
        {},
        h("div.lineage-head", {}, this.title, h("button.btn.btn-ghost.btn-icon.btn-sm", { type: "button", "aria-label": "Close", title: "Close", onclick: () => this.close() }, icon("x"))),
        this.body,
        h("div.lineage-foot", {}, h("p.hint", {}, "Click a cell to open it; pick 2–4 to compare them."), h("span.spacer"), this.compareBtn),
      ),
    );
    this.dialog.addEventListener("close", () => this.stop());
    document.body.append(this.dialog);
  }

  renderTitle() {
    const ids = this.sweep.generation_ids;
    const done = ids.filter((id) => TERMINAL.has(this.cells.get(id)?.status)).length;
    const names = this.sweep.axes.map(axisName).join(" × ");
    this.title.textContent = `Contact sheet · ${ids.length} cell${ids.length === 1 ? "" : "s"}${done < ids.length ? ` · ${done} done` : ""}`;
    this.title.title = `Sweep ${this.sweep.id || ""}: ${names}`;
  }

  render() {
    clear(this.body);
    this.slots = new Map();
    this.renderTitle();
    this.renderPicked();
    const { axes } = this.sweep;
    this.body.append(h("p.sweep-axes.muted", {}, axes.length > 1 ? `Rows: ${axisName(axes[0])} · columns: ${axisName(axes[1])}` : `Columns: ${axisName(axes[0])}`));
    for (const sheet of sheetsOf(this.sweep)) this.body.append(this.grid(sheet));
  }

  grid(sheet) {
    const { axes } = this.sweep;
    const rowAxis = axes.length > 1 ? axes[0] : null;
    const colAxis = axes.length > 1 ? axes[1] : axes[0];
    const caption = sheet.title.length ? h("caption.sweep-caption", {}, sheet.title.map(([axis, at]) => `${axisName(axis)} = ${axis.values[at]}`).join(" · ")) : null;
    const head = h(
      "thead",
      {},
      h("tr", {}, h("td.sweep-corner"), h("th.sweep-axis", { scope: "colgroup", colspan: String(colAxis.values.length) }, `${axisName(colAxis)} →`)),
      h("tr", {}, h("th.sweep-axis.sweep-row-axis", { scope: "col" }, rowAxis ? `${axisName(rowAxis)} ↓` : ""), colAxis.values.map((value) => h("th.sweep-col", { scope: "col", dataset: { axis: axisName(colAxis), value: String(value) } }, String(value)))),
    );
    const body = h(
      "tbody",
      {},
      sheet.rows.map((indices, r) =>
        h("tr", {}, h("th.sweep-row", { scope: "row", dataset: rowAxis ? { axis: axisName(rowAxis), value: String(rowAxis.values[r]) } : {} }, rowAxis ? String(rowAxis.values[r]) : ""), indices.map((index) => this.slot(index))),
      ),
    );
    return h("div.sweep-sheet", {}, h("table.sweep-grid", { dataset: { testid: "sweep-grid" } }, caption, head, body));
  }

  slot(index) {
    const id = this.sweep.generation_ids[index];
    const td = h("td.sweep-cell", { dataset: { id, index: String(index) } });
    this.slots.set(id, td);
    this.fillCell(td, id);
    return td;
  }

  /** A cell's thumbnail (or status), the values it ran with and its actions. */
  fillCell(td, id) {
    const index = Number(td.dataset.index);
    const gen = this.cells.get(id);
    const { axes } = this.sweep;
    const position = positionOf(index, axes);
    const values = axes.map((axis, a) => cellValue(gen, axis, axis.values[position[a]]));
    const label = axes.map((axis, a) => `${shortName(axis)} ${values[a]}`).join(" · ");
    const status = gen?.status || "queued";
    const usable = status === "succeeded" && !!gen.result_url;
    td.dataset.status = status;
    td.dataset.values = JSON.stringify(values);
    clear(td);
    const pick = h("input", { type: "checkbox", "aria-label": `Pick the cell ${label} to compare`, disabled: !usable });
    pick.checked = this.picked.includes(id);
    pick.addEventListener("change", () => this.toggle(id, pick));
    const thumb = usable
      ? h("img", { src: gen.result_url, alt: `Result: ${label}`, loading: "lazy", draggable: false })
      : h("span.thumb-placeholder", { dataset: { status } }, ACTIVE.has(status) ? h("span.spinner", { "aria-hidden": "true" }) : icon(status === "failed" ? "warn" : "x", "icon-lg"), h("span.sweep-status", {}, gen ? statusLabel(gen) || status : "Loading…"));
    td.append(
      h(
        "div.sweep-card",
        { "aria-current": id === this.asked ? "true" : null },
        h("button.sweep-thumb", { type: "button", "aria-label": `Open the cell ${label} in the playground`, title: "Open in the playground", disabled: !gen, onclick: () => this.openCell(id) }, thumb),
        h("p.sweep-label", { title: label }, label),
        h(
          "div.sweep-actions",
          {},
          h("label.check.lnode-pick", { title: "Pick for comparison" }, pick, h("span", {}, "Compare")),
          h("button.btn.btn-link.btn-sm", { type: "button", disabled: !gen, title: "This cell's parameters in the form (without the sweep)", dataset: { testid: "sweep-reuse" }, onclick: () => this.reuse(id) }, "Reuse parameters"),
        ),
      ),
    );
  }

  toggle(id, input) {
    if (!input.checked) this.picked = this.picked.filter((x) => x !== id);
    else if (this.picked.length >= MAX_COMPARE) {
      input.checked = false;
      toast(`Compare up to ${MAX_COMPARE} runs at a time`, "error");
    } else this.picked = [...this.picked, id];
    this.renderPicked();
  }

  renderPicked() {
    const n = this.picked.length;
    this.compareBtn.disabled = n < 2;
    this.compareBtn.lastChild.textContent = n ? `Compare (${n})` : "Compare";
  }

  openCell(id) {
    const gen = this.cells.get(id);
    if (!gen) return;
    this.close();
    this.app.openGeneration(gen);
  }

  /** The cell's parameters in the form: its own values, no `sweep` (paramsOf drops it). */
  reuse(id) {
    const gen = this.cells.get(id);
    if (!gen) return;
    this.close();
    this.app.restore(gen);
  }

  compare() {
    const gens = this.picked.map((id) => this.cells.get(id)).filter(Boolean);
    if (gens.length < 2) return;
    this.close();
    this.app.history.compareRuns(gens);
  }
}
