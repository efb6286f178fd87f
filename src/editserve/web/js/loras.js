// The `loras` field: up to N rows, each a LoRA (picked from the model card's list of the
// server's LoRAs, or a pasted hub file / URL) and a scale slider. The schema gives the
// count and the scale's bounds; the card gives the list.

import { h, icon } from "./dom.js";

let rowCounter = 0;

export class LoraRows {
  constructor({ name, prop, schema, available, onChange }) {
    const ref = prop.items?.$ref?.split("/").pop();
    const scale = (ref && schema?.$defs?.[ref]?.properties?.scale) || {};
    this.scaleMin = scale.minimum ?? 0;
    this.scaleMax = scale.maximum ?? 4;
    this.scaleDefault = scale.default ?? 1;
    this.max = prop.maxItems ?? 3;
    this.available = available || [];
    this.onChange = onChange || (() => {});
    this.rows = [];
    this.list = h("div.lora-rows", { "data-testid": "lora-rows" });
    this.options = h(
      "datalist",
      { id: `lora-options-${name}` },
      this.available.map((lora) => h("option", { value: lora.name }, `${lora.name} (${fmtSize(lora.size_bytes)})`)),
    );
    this.addButton = h(
      "button.btn.btn-ghost.btn-sm.lora-add",
      { type: "button", "data-testid": "lora-add", onclick: () => this.addRow().path.focus() },
      icon("plus"),
      "Add LoRA",
    );
    this.note = h(
      "p.field-help.lora-note",
      {},
      this.available.length
        ? `${this.available.length} LoRA${this.available.length > 1 ? "s" : ""} on this server fit this model; or paste a hub file owner/repo/file.safetensors.`
        : "No LoRAs in this server's folder fit this model; paste a hub file owner/repo/file.safetensors or an https URL.",
    );
    this.el = h("div.lora-field", {}, this.list, this.options, h("div.lora-foot", {}, this.addButton), this.note);
    this.paint();
  }

  addRow(value = {}) {
    const id = `lora-${++rowCounter}`;
    const path = h("input.input.lora-path", {
      id: `${id}-path`,
      type: "text",
      list: this.options.id,
      spellcheck: "false",
      placeholder: this.available[0]?.name || "owner/repo/file.safetensors",
      "aria-label": "LoRA",
    });
    path.value = value.path ?? (this.rows.length === 0 && this.available[0] ? this.available[0].name : "");
    const number = h("input.input.input-num.lora-scale-num", {
      type: "number",
      min: this.scaleMin,
      max: this.scaleMax,
      step: 0.05,
      inputmode: "decimal",
      "aria-label": "LoRA scale",
    });
    const range = h("input.range.lora-scale", {
      type: "range",
      min: this.scaleMin,
      max: this.scaleMax,
      step: 0.05,
      "aria-label": "LoRA scale",
      "data-testid": "lora-scale",
    });
    const remove = h("button.btn.btn-ghost.btn-icon", { type: "button", "aria-label": "Remove this LoRA", title: "Remove" }, icon("trash"));
    const row = { path, number, range };
    row.el = h("div.lora-row", { "data-testid": "lora-row" }, path, h("div.number-row.lora-scale-row", {}, range, number), remove);
    const setScale = (v) => {
      number.value = v;
      range.value = v;
      paint(range);
    };
    setScale(value.scale ?? this.scaleDefault);
    number.addEventListener("input", () => {
      if (number.value !== "") range.value = number.value;
      paint(range);
      this.onChange();
    });
    range.addEventListener("input", () => {
      number.value = range.value;
      paint(range);
      this.onChange();
    });
    path.addEventListener("input", () => this.onChange());
    remove.addEventListener("click", () => {
      this.rows = this.rows.filter((r) => r !== row);
      row.el.remove();
      this.paint();
      this.onChange();
      this.addButton.focus();
    });
    this.rows.push(row);
    this.list.append(row.el);
    this.paint();
    this.onChange();
    return row;
  }

  paint() {
    this.addButton.hidden = this.rows.length >= this.max;
  }

  /** [{path, scale}] of the rows with a path (undefined when there are none). */
  get() {
    const value = this.rows
      .filter((row) => row.path.value.trim())
      .map((row) => ({ path: row.path.value.trim(), scale: row.number.value === "" ? this.scaleDefault : Number(row.number.value) }));
    return value.length ? value : undefined;
  }

  set(value) {
    for (const row of this.rows) row.el.remove();
    this.rows = [];
    for (const item of Array.isArray(value) ? value.slice(0, this.max) : []) this.addRow(item);
    this.paint();
  }

  /** Problems of the rows, as [{index, message}]. */
  check() {
    const problems = [];
    this.rows.forEach((row, index) => {
      const scale = Number(row.number.value);
      if (!row.path.value.trim()) problems.push({ index, message: "Pick a LoRA or remove the row" });
      else if (row.number.value === "" || Number.isNaN(scale) || scale < this.scaleMin || scale > this.scaleMax) {
        problems.push({ index, message: `Scale must be between ${this.scaleMin} and ${this.scaleMax}` });
      }
    });
    return problems;
  }

  summary() {
    const value = this.get();
    return value ? value.map((l) => `${l.path.split("/").pop().replace(/\.safetensors$/, "")} ×${l.scale}`).join(", ") : "";
  }

  focus() {
    (this.rows[0]?.path || this.addButton).focus();
  }
}

function paint(range) {
  const pct = ((Number(range.value) - Number(range.min)) / (Number(range.max) - Number(range.min))) * 100;
  range.style.setProperty("--fill", `${pct}%`);
}

function fmtSize(bytes) {
  if (!bytes && bytes !== 0) return "";
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KB`;
}
