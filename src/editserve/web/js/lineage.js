// The edit tree of a run ("Edit tree", from the stage's result and from history cards): the
// runs it was made from and those made from its result (GET /api/ai/generations/{id}/lineage,
// asked again of its farthest ancestor so every branch shows), drawn as an indented list in
// a dialog. Each node shows its result, prompt and status (a pruned one greyed, keeping its
// place); "Branch from here" makes its result Picture 1 of a new edit; 2–4 picked nodes
// (siblings, say) open in History's compare view.

import { h, icon, clear, shortId, toast, fmtAgo } from "./dom.js";

const MAX_COMPARE = 4;
const STATUS = { succeeded: "Succeeded", failed: "Failed", cancelled: "Cancelled", queued: "Queued", processing: "Processing", pruned: "Pruned" };

export class LineageView {
  constructor(app) {
    this.app = app;
    this.dialog = null;
    this.tree = null; // the lineage answer drawn
    this.asked = null; // the run it was opened for
    this.picked = []; // ids picked for comparison
    this.error = "";
    this.ticket = 0;
  }

  /** The "Edit tree" button of a run; `link`: the history card's text-link style. */
  button(gen, { link = false } = {}) {
    const label = `Edit tree of run ${shortId(gen.generation_id)}`;
    const open = () => this.open(gen.generation_id);
    if (link) return h("button.btn.btn-link.btn-sm.lineage-link", { type: "button", "aria-label": label, title: "What it was made from, and what was made from it", dataset: { testid: "lineage-open" }, onclick: open }, "Edit tree");
    return h("button.btn.btn-ghost.btn-sm", { type: "button", "aria-label": label, title: "The edit tree: what it was made from, and what was made from it", dataset: { testid: "lineage-open" }, onclick: open }, icon("tree"), h("span", {}, "Edit tree"));
  }

  async open(id) {
    this.ensureDialog();
    const ticket = ++this.ticket;
    Object.assign(this, { asked: id, tree: null, picked: [], error: "" });
    this.render();
    if (!this.dialog.open) this.dialog.showModal();
    try {
      let tree = await this.app.api.lineage(id);
      // From the farthest ancestor, the asked run's siblings (and their branches) show too.
      const root = layout(tree)[0]?.node.generation_id;
      if (root && root !== id) {
        const whole = await this.app.api.lineage(root).catch(() => null);
        if (whole && whole.nodes.some((n) => n.generation_id === id)) tree = whole;
      }
      if (ticket === this.ticket) this.tree = tree;
    } catch (err) {
      if (ticket === this.ticket) this.error = err.message;
    }
    if (ticket === this.ticket) this.render();
  }

  close() {
    this.ticket++;
    if (this.dialog?.open) this.dialog.close();
  }

  ensureDialog() {
    if (this.dialog) return;
    this.title = h("h2#lineage-title", {}, "Edit tree");
    this.body = h("div.lineage-body");
    this.compareBtn = h("button.btn.btn-primary.btn-sm", { type: "button", disabled: true, onclick: () => this.compare() }, icon("compare"), h("span", {}, "Compare"));
    this.hint = h("p.hint.lineage-hint");
    this.dialog = h(
      "dialog.dialog.lineage-dialog",
      { "aria-labelledby": "lineage-title", dataset: { testid: "lineage" } },
      h(
        "div.dialog-body",
        {},
        h("div.lineage-head", {}, this.title, h("button.btn.btn-ghost.btn-icon.btn-sm", { type: "button", "aria-label": "Close", title: "Close", onclick: () => this.close() }, icon("x"))),
        this.body,
        h("div.lineage-foot", {}, this.hint, h("span.spacer"), this.compareBtn),
      ),
    );
    this.dialog.addEventListener("close", () => this.ticket++);
    document.body.append(this.dialog);
  }

  render() {
    clear(this.body);
    const n = this.picked.length;
    this.compareBtn.disabled = n < 2;
    this.compareBtn.lastChild.textContent = n ? `Compare (${n})` : "Compare";
    this.hint.textContent = "Pick 2–4 runs (siblings, say) to compare them.";
    if (this.error) {
      this.title.textContent = "Edit tree";
      this.body.append(h("p.lineage-empty", { role: "alert" }, `Could not load the edit tree: ${this.error}`));
      return;
    }
    if (!this.tree) {
      this.body.append(h("p.lineage-empty.muted", {}, "Loading…"));
      return;
    }
    const rows = layout(this.tree);
    this.title.textContent = `Edit tree · ${rows.length} run${rows.length === 1 ? "" : "s"}`;
    this.body.append(h("ol.lineage-tree", { "aria-label": "Runs of the edit tree, each under the run it was made from" }, rows.map((row) => this.row(row))));
    if (rows.length === 1) this.body.append(h("p.hint", {}, "No run was made from this one's result, nor this one from another's. Edit its result (\"Branch from here\") to grow the tree."));
  }

  row({ node, level }) {
    const id = node.generation_id;
    const pruned = node.status === "pruned";
    const asked = id === this.asked;
    const usable = !!node.result_url;
    const pick = h("input", { type: "checkbox", "aria-label": `Pick run ${shortId(id)} to compare`, disabled: !usable });
    pick.checked = this.picked.includes(id);
    pick.addEventListener("change", () => this.toggle(id, pick));
    const li = h(
      "li.lnode",
      { dataset: { id, level: String(level), status: node.status } },
      h(
        "div.lnode-card",
        { "aria-current": asked ? "true" : null },
        usable
          ? h("button.lnode-thumb", { type: "button", "aria-label": `Open run ${shortId(id)} in the playground`, title: "Open in the playground", onclick: () => this.openRun(id) }, h("img", { src: node.result_url, alt: node.prompt ? `Result: ${node.prompt}` : "Result", loading: "lazy", draggable: false }))
          : h("div.lnode-thumb.thumb-placeholder", { dataset: { status: node.status } }, icon(pruned ? "trash" : node.status === "failed" ? "warn" : "x", "icon-lg")),
        h(
          "div.lnode-body",
          {},
          h("p.lnode-prompt", { title: node.prompt || "" }, pruned ? "Pruned: kept as a link of the tree" : node.prompt || "(no prompt)"),
          h(
            "div.lnode-meta",
            {},
            h("span.status-pill", { dataset: { status: node.status } }, STATUS[node.status] || node.status),
            h("span.mono", { title: id }, shortId(id)),
            asked ? h("span.chip.chip-ok", {}, "This run") : null,
            node.enqueued_at ? h("span", { title: new Date(node.enqueued_at * 1000).toLocaleString() }, fmtAgo(node.enqueued_at)) : null,
          ),
          pruned
            ? null
            : h(
                "div.lnode-actions",
                {},
                h("button.btn.btn-ghost.btn-sm", { type: "button", disabled: !usable, title: "A new edit with this run's result as Picture 1", dataset: { testid: "lineage-branch" }, onclick: () => this.branch(node) }, icon("reuse"), h("span", {}, "Branch from here")),
                usable ? h("label.check.lnode-pick", { title: "Pick for comparison" }, pick, h("span", {}, "Compare")) : null,
              ),
        ),
      ),
    );
    li.style.setProperty("--level", String(level));
    return li;
  }

  toggle(id, input) {
    if (!input.checked) this.picked = this.picked.filter((x) => x !== id);
    else if (this.picked.length >= MAX_COMPARE) {
      input.checked = false;
      toast(`Compare up to ${MAX_COMPARE} runs at a time`, "error");
    } else this.picked = [...this.picked, id];
    const n = this.picked.length;
    this.compareBtn.disabled = n < 2;
    this.compareBtn.lastChild.textContent = n ? `Compare (${n})` : "Compare";
  }

  /** A new edit of this node's result: it becomes Picture 1, the prompt is ready to type. */
  async branch(node) {
    this.close();
    await this.app.draft.useAsInput({ generation_id: node.generation_id, result_url: node.result_url }, "replace");
    const prompt = this.app.form.fields.get("prompt")?.input;
    prompt?.focus();
    prompt?.select();
  }

  /** The full run (history's copy, or the server's): what compare and the stage need. */
  async full(id) {
    return this.app.history.get(id) || (await this.app.api.generation(id));
  }

  async openRun(id) {
    try {
      const gen = await this.full(id);
      this.close();
      this.app.openGeneration(gen);
    } catch (err) {
      toast(`Could not open the run: ${err.message}`, "error");
    }
  }

  async compare() {
    try {
      const gens = await Promise.all(this.picked.map((id) => this.full(id)));
      this.close();
      this.app.history.compareRuns(gens);
    } catch (err) {
      toast(`Could not compare: ${err.message}`, "error");
    }
  }
}

/** The tree's nodes in drawing order, [{node, level}]: depth first from the roots (the
 * farthest ancestors), children oldest first; a node with several parents comes once,
 * under the first. */
export function layout(tree) {
  const nodes = new Map((tree.nodes || []).map((n) => [n.generation_id, n]));
  const children = new Map();
  const hasParent = new Set();
  for (const { parent, child } of tree.edges || []) {
    if (!nodes.has(parent) || !nodes.has(child)) continue;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(nodes.get(child));
    hasParent.add(child);
  }
  const age = (a, b) => (a.enqueued_at ?? Infinity) - (b.enqueued_at ?? Infinity) || a.generation_id.localeCompare(b.generation_id);
  const roots = [...nodes.values()].filter((n) => !hasParent.has(n.generation_id)).sort((a, b) => a.depth - b.depth || age(a, b));
  const rows = [];
  const seen = new Set();
  const visit = (node, level) => {
    if (seen.has(node.generation_id)) return;
    seen.add(node.generation_id);
    rows.push({ node, level });
    for (const child of (children.get(node.generation_id) || []).sort(age)) visit(child, level + 1);
  };
  for (const root of roots) visit(root, 0);
  for (const node of nodes.values()) visit(node, 0); // none unless the edges were cut short
  return rows;
}
