// A form generated from a model's json_request_schema: fields in x-order, defaults,
// enums, limits and descriptions come from the schema. Fields in the schema's `basic`
// list (and other text/choice fields) are shown; numbers and switches go under
// "Advanced". Invalid input is flagged before sending; server errors land on the field
// they name.

import { h, clear } from "./dom.js";
import { buildField } from "./fields.js";
import { orderedProperties, isImageArray, checkValue } from "./schema.js";

export class SchemaForm {
  constructor(root, { api, fileInput, onChange }) {
    this.root = root;
    this.api = api;
    this.fileInput = fileInput;
    this.onChange = onChange || (() => {});
    this.fields = new Map();
    this.schema = null;
    this.imageField = null;
  }

  // --- building ------------------------------------------------------------------------
  /** Build the form of `schema`; `loras` is the model card's list of the server's LoRAs. */
  setSchema(schema, { loras = [] } = {}) {
    this.schema = schema;
    this.loras = loras;
    this.fields.clear();
    this.imageField = null;
    clear(this.root);
    const basic = new Set(schema.basic || []);
    const required = new Set(schema.required || []);
    const main = h("div.field-group");
    const advancedBody = h("div.field-group");
    for (const { name, prop } of orderedProperties(schema)) {
      const field = buildField(this, name, prop, required.has(name));
      if (field.images) this.imageField = field.images;
      this.fields.set(name, field);
      const simple = prop.enum || prop.type === "string" || isImageArray(prop) || prop.renderType === "loras" || prop.renderType === "control";
      const owner = [...this.fields.values()].find((f) => f.adopts?.(name)); // mask_feather: by the mask painter
      if (owner) owner.adopt(field);
      else (basic.has(name) || (simple && prop.type !== "boolean") ? main : advancedBody).append(field.el);
    }
    this.root.append(main);
    if (advancedBody.children.length) {
      this.advancedSummary = h("span.advanced-summary");
      this.advanced = h(
        "details.advanced",
        {},
        h("summary", {}, h("span", {}, "Advanced"), this.advancedSummary),
        advancedBody,
      );
      this.advanced.addEventListener("toggle", () => localStorage.setItem("editserve.advanced", this.advanced.open ? "1" : "0"));
      this.advanced.open = localStorage.getItem("editserve.advanced") === "1";
      this.root.append(this.advanced);
    }
    this.updateAdvancedSummary();
  }

  changed() {
    this.updateAdvancedSummary();
    this.onChange();
  }

  // --- values --------------------------------------------------------------------------
  /** The parameters as they would be sent: only what has a value. */
  values() {
    const params = {};
    for (const [name, field] of this.fields) {
      const value = field.get();
      if (value === undefined || value === null) continue;
      if (field.prop.type === "boolean" && value === false && field.prop.default !== true) continue;
      params[name] = value;
    }
    return params;
  }

  setValues(params) {
    for (const [name, field] of this.fields) {
      if (name in params) field.set(params[name]);
      else if (name === "seed") field.set(undefined);
      else if (field.rows) field.set([]);
      else if (field.reset) field.reset();
      else if (field.prop.default !== undefined) field.set(field.prop.default);
    }
    this.clearErrors();
    this.changed();
  }

  /** Resolves once what fields still send ahead (a painted mask's upload) is done. */
  async ready() {
    await Promise.all([...this.fields.values()].map((field) => field.ready?.()));
  }

  noteSeed(seed) {
    this.fields.get("seed")?.noteUsed?.(seed);
  }

  lockSeed(seed) {
    this.fields.get("seed")?.set(seed);
    this.changed();
  }

  // --- validation ----------------------------------------------------------------------
  /** Client-side checks from the schema. Returns [{field, index, message}]. */
  validate() {
    const problems = [];
    for (const [name, field] of this.fields) {
      if (field.images) {
        const list = field.images;
        if (list.pending()) problems.push({ field: name, message: "Wait for the uploads to finish" });
        list.failed().forEach((item) => problems.push({ field: name, index: list.items.indexOf(item), message: item.error }));
        const message = checkValue(name, field.prop, list.refs(), field.required);
        if (message && !list.pending()) problems.push({ field: name, message });
        continue;
      }
      if (field.check) {
        problems.push(...field.check());
        continue;
      }
      const value = field.get();
      const message = checkValue(name, field.prop, value, field.required);
      if (message) problems.push({ field: name, message });
    }
    return problems;
  }

  /** Show [{field, index?, message}]; returns the problems no field could take. */
  showErrors(problems) {
    this.clearErrors();
    const unplaced = [];
    let first = null;
    for (const problem of problems) {
      const field = problem.field && this.fields.get(problem.field);
      if (!field) {
        unplaced.push(problem);
        continue;
      }
      if (field.images && problem.index !== null && problem.index !== undefined) {
        field.images.setItemError(problem.index, problem.message);
      }
      const indexed = problem.index !== null && problem.index !== undefined;
      const own = indexed && field.images ? `Picture ${problem.index + 1}: ${problem.message}` : indexed && field.rows ? `LoRA ${problem.index + 1}: ${problem.message}` : problem.message;
      const text = field.errorEl.textContent ? `${field.errorEl.textContent} · ${own}` : own;
      field.errorEl.textContent = text;
      field.errorEl.hidden = false;
      field.el.classList.add("invalid");
      field.input?.setAttribute("aria-invalid", "true");
      if (!first) first = field;
    }
    if (first) {
      if (first.el.closest("details") && !first.el.closest("details").open) first.el.closest("details").open = true;
      first.focus();
    }
    return unplaced;
  }

  clearFieldError(name) {
    const field = this.fields.get(name);
    if (!field || field.errorEl.hidden) return;
    field.errorEl.hidden = true;
    field.errorEl.textContent = "";
    field.el.classList.remove("invalid");
    field.input?.removeAttribute("aria-invalid");
    if (field.images) {
      field.images.clearItemErrors();
    }
  }

  clearErrors() {
    for (const name of this.fields.keys()) this.clearFieldError(name);
    if (this.imageField) {
      this.imageField.clearItemErrors();
      this.imageField.renderTiles();
    }
  }

  updateAdvancedSummary() {
    if (!this.advancedSummary) return;
    const parts = [];
    for (const field of this.fields.values()) {
      if (!field.el || !this.advanced?.contains(field.el)) continue;
      const value = field.get();
      if (field.name === "seed") parts.push(value === undefined ? "random seed" : `seed ${value}`);
      else if (field.prop.type === "boolean") {
        if (value) parts.push(field.label.toLowerCase());
      } else if (value !== undefined) parts.push(`${shortLabel(field.name, field.label)} ${value}`);
    }
    this.advancedSummary.textContent = parts.join(" · ");
  }
}

function shortLabel(name, label) {
  return { num_inference_steps: "steps", true_cfg_scale: "CFG" }[name] || label.toLowerCase();
}
