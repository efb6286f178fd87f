// The Usage tab: what this key used in the last 30 days (a bar per day of GPU-seconds,
// then the days in a table: generations, GPU-seconds, megapixels, cost when the server
// has a price table) and where it stands against its quotas. Read from GET /api/ai/usage.

import { h, icon, clear } from "./dom.js";
import { ApiError } from "./api.js";

const DAY_MS = 86_400_000;

/** The figures the view shows: 2 decimals, or 2 significant digits below 1 (34.567 →
 * "34.57", 3 → "3", 0.004096 → "0.0041"), so small amounts never read as 0. */
export function fmtNumber(value, digits = 2) {
  const n = Number(value) || 0;
  return String(Number(Math.abs(n) < 1 ? n.toPrecision(digits) : n.toFixed(digits)));
}

function fmtCost(value, currency) {
  if (value === null || value === undefined) return "—";
  const text = fmtNumber(value, 4);
  return currency ? `${text} ${currency}` : text;
}

/** Every UTC day from `from` to `to` ("YYYY-MM-DD"), at most 62; [] when unknown. */
function daysBetween(from, to) {
  const start = Date.parse(String(from || "").slice(0, 10));
  const end = Date.parse(String(to || "").slice(0, 10));
  if (Number.isNaN(start) || Number.isNaN(end) || end < start) return [];
  const days = [];
  for (let t = start; t <= end && days.length < 62; t += DAY_MS) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

export class UsageView {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.loading = false;
    this.report = null;
    this.error = "";
    this.keySeq = 0; // bumped on a key change: an answer for the old key is dropped
    this.build();
  }

  build() {
    this.period = h("span.muted.usage-period");
    const refresh = h("button.btn.btn-ghost.btn-sm.btn-icon", { type: "button", "aria-label": "Refresh", title: "Refresh", onclick: () => this.refresh() }, icon("refresh"));
    this.body = h("div.usage-body", { "aria-live": "polite" });
    this.root.append(
      h("div.toolbar", {}, h("div.toolbar-left", {}, h("h2.section-title", {}, "Usage of this key"), this.period), h("div.toolbar-right", {}, refresh)),
      this.body,
    );
  }

  async refresh() {
    if (this.loading || !this.app.api.key) return;
    const seq = this.keySeq;
    this.loading = true;
    this.root.dataset.state = "loading";
    if (!this.report) this.renderMessage("Loading…");
    let report = null;
    let error = "";
    try {
      report = await this.app.api.usage({ groupBy: "day" });
    } catch (err) {
      error = describe(err);
      if (err instanceof ApiError && err.status === 401 && seq === this.keySeq) this.app.keys.unauthorized();
    } finally {
      this.loading = false;
    }
    if (seq !== this.keySeq) {
      if (!this.root.hidden) this.refresh(); // the key changed meanwhile: ask again
      return;
    }
    this.report = report;
    this.error = error;
    this.render();
  }

  /** Another key: what was shown belongs to the old one. */
  reset() {
    this.keySeq += 1;
    this.report = null;
    this.error = "";
    clear(this.body);
    if (!this.root.hidden) this.refresh();
  }

  renderMessage(text) {
    clear(this.body).append(h("p.empty.usage-empty", {}, icon("history", "icon-lg"), h("span", {}, text)));
  }

  render() {
    if (this.error) {
      this.root.dataset.state = "error";
      this.period.textContent = "";
      this.renderMessage(this.error);
      return;
    }
    const report = this.report;
    if (!report) return;
    this.root.dataset.state = "ready";
    this.period.textContent = `${String(report.from || "").slice(0, 10)} – ${String(report.to || "").slice(0, 10)} (UTC)`;
    const rows = (report.rows || []).filter((row) => row.day);
    const priced = report.currency !== null && report.currency !== undefined;
    clear(this.body).append(
      this.quotas(report.quotas),
      this.totals(report.total || {}, priced, report.currency),
      rows.length ? this.chart(report, rows) : null,
      rows.length ? this.table(rows, priced, report.currency) : h("p.empty.usage-empty", {}, h("span", {}, "No generations finished in these 30 days.")),
    );
  }

  quotas(quotas) {
    if (!quotas) return null;
    const running = quotas.max_running === null || quotas.max_running === undefined
      ? meter("quota-running", "Running now", `${quotas.running ?? 0}`, "no limit", null)
      : meter("quota-running", "Running now", `${quotas.running ?? 0} of ${quotas.max_running}`, "queued or running at once", (quotas.running ?? 0) / Math.max(1, quotas.max_running));
    const used = fmtNumber(quotas.gpu_seconds_last_24h);
    const gpu = quotas.gpu_seconds_per_day === null || quotas.gpu_seconds_per_day === undefined
      ? meter("quota-gpu", "GPU-seconds, last 24 h", used, "no daily limit", null)
      : meter("quota-gpu", "GPU-seconds, last 24 h", `${used} of ${fmtNumber(quotas.gpu_seconds_per_day)}`, "daily quota", (quotas.gpu_seconds_last_24h || 0) / Math.max(1e-9, quotas.gpu_seconds_per_day));
    const weight = meter("quota-weight", "Fair-share weight", fmtNumber(quotas.weight ?? 1), "its share when keys compete", null);
    return h("section.usage-quotas", { "aria-label": "Quotas" }, running, gpu, weight);
  }

  totals(total, priced, currency) {
    const stat = (id, label, value) => h("div.usage-stat", { dataset: { testid: id } }, h("span.usage-stat-label", {}, label), h("span.usage-stat-value", {}, value));
    return h(
      "section.usage-totals",
      { "aria-label": "Totals" },
      stat("total-generations", "Generations", String(total.generations ?? 0)),
      stat("total-succeeded", "Succeeded", String(total.succeeded ?? 0)),
      stat("total-gpu-seconds", "GPU-seconds", fmtNumber(total.gpu_seconds)),
      stat("total-megapixels", "Megapixels", fmtNumber(total.output_megapixels)),
      priced ? stat("total-cost", "Cost", fmtCost(total.cost, currency)) : null,
    );
  }

  chart(report, rows) {
    const byDay = new Map(rows.map((row) => [row.day, row]));
    const days = daysBetween(report.from, report.to);
    const shown = days.length ? days : rows.map((row) => row.day);
    const peak = Math.max(...rows.map((row) => Number(row.gpu_seconds) || 0), 1e-9);
    const bars = shown.map((day) => {
      const row = byDay.get(day);
      const value = row ? Number(row.gpu_seconds) || 0 : 0;
      const label = row ? `${day}: ${fmtNumber(value)} GPU-seconds, ${row.generations} generations` : `${day}: nothing`;
      const bar = h("span.usage-bar", { title: label, dataset: { day, zero: String(!value) } });
      bar.style.setProperty("--v", String(value / peak));
      return bar;
    });
    return h(
      "figure.usage-chart.panel",
      {},
      h("figcaption.hint", {}, "GPU-seconds per day"),
      h("div.usage-bars", { role: "img", "aria-label": `GPU-seconds per day, ${shown[0]} to ${shown[shown.length - 1]}` }, bars),
    );
  }

  table(rows, priced, currency) {
    const head = ["Day", "Generations", "Succeeded", "GPU-seconds", "Megapixels", priced ? "Cost" : null].filter(Boolean);
    const body = [...rows].reverse().map((row) =>
      h(
        "tr",
        { dataset: { day: row.day } },
        h("th", { scope: "row" }, row.day),
        h("td", {}, String(row.generations ?? 0)),
        h("td", {}, String(row.succeeded ?? 0)),
        h("td", {}, fmtNumber(row.gpu_seconds)),
        h("td", {}, fmtNumber(row.output_megapixels)),
        priced ? h("td", {}, fmtCost(row.cost, currency)) : null,
      ),
    );
    return h(
      "div.usage-table-wrap.panel",
      {},
      h("table.usage-table", {}, h("thead", {}, h("tr", {}, head.map((text) => h("th", { scope: "col" }, text)))), h("tbody", {}, body)),
    );
  }
}

function meter(id, label, value, note, fraction) {
  const parts = [h("span.usage-stat-label", {}, label), h("span.usage-stat-value", {}, value), h("span.hint", {}, note)];
  if (fraction !== null) {
    const bar = h("span.usage-meter", { role: "presentation" }, h("span.usage-meter-fill"));
    bar.style.setProperty("--v", String(Math.min(1, Math.max(0, fraction))));
    bar.dataset.full = String(fraction >= 1);
    parts.push(bar);
  }
  return h("div.usage-stat.usage-quota", { dataset: { testid: id } }, parts);
}

function describe(err) {
  if (!(err instanceof ApiError)) return `Could not load the usage: ${err.message}`;
  if (err.status === 403) return `This key may not read its usage: ${err.detail || err.title}`;
  if (err.status === 404) return "This server has no usage report.";
  return `Could not load the usage: ${err.message}`;
}
