// A form generated from a model's json_request_schema: fields in x-order, defaults,
// enums, limits and descriptions come from the schema. Fields in the schema's `basic`
// list (and other text/choice fields) are shown; numbers and switches go under
// "Advanced". Invalid input is flagged before sending; server errors land on the field
// they name.

import { h, icon, clear, fieldLabel } from "./dom.js";
import { ImageList } from "./images.js";
import { LoraRows } from "./loras.js";

const SEED_SPACE = 2 ** 32;

export function orderedProperties(schema) {
  const props = Object.entries(schema?.properties || {});
  return props
    .map(([name, prop], i) => ({ name, prop, order: prop["x-order"] ?? 1000 + i }))
    .sort((a, b) => a.order - b.order);
}

function isImageArray(prop) {
  return prop.type === "array" && prop.items && prop.items.renderType === "image-url";
}

function limits(prop) {
  const min = prop.minimum ?? (prop.exclusiveMinimum !== undefined ? prop.exclusiveMinimum + 1 : undefined);
  const max = prop.maximum ?? (prop.exclusiveMaximum !== undefined ? prop.exclusiveMaximum - (prop.type === "integer" ? 1 : Number.EPSILON) : undefined);
  return { min, max };
}

/** Check one value against its schema property. Returns a message or "". */
export function checkValue(name, prop, value, required) {
  const label = fieldLabel(name, prop);
  if (value === undefined || value === null || value === "") {
    return required ? `${label} is required` : "";
  }
  if (prop.type === "string") {
    if (prop.minLength && !String(value).trim()) return `${label} must not be empty`;
    if (prop.maxLength && value.length > prop.maxLength) return `${label} is limited to ${prop.maxLength} characters`;
    if (prop.enum && !prop.enum.includes(value)) return `${label} must be one of ${prop.enum.join(", ")}`;
  }
  if (prop.type === "integer" || prop.type === "number") {
    if (typeof value !== "number" || Number.isNaN(value)) return `${label} must be a number`;
    if (prop.type === "integer" && !Number.isInteger(value)) return `${label} must be a whole number`;
    const { min, max } = limits(prop);
    if (prop.exclusiveMaximum !== undefined && value >= prop.exclusiveMaximum) {
      return `${label} must be below ${prop.exclusiveMaximum}`;
    }
    if (min !== undefined && value < min) return `${label} must be at least ${min}`;
    if (prop.maximum !== undefined && max !== undefined && value > max) return `${label} must be at most ${max}`;
  }
  if (prop.type === "array") {
    if (prop.minItems && value.length < prop.minItems) {
      return prop.minItems === 1 ? `Add at least one image` : `Add at least ${prop.minItems} images`;
    }
    if (prop.maxItems && value.length > prop.maxItems) return `At most ${prop.maxItems} images`;
  }
  return "";
}

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
      const field = this.buildField(name, prop, required.has(name));
      this.fields.set(name, field);
      const simple = prop.enum || prop.type === "string" || isImageArray(prop) || prop.renderType === "loras";
      (basic.has(name) || (simple && prop.type !== "boolean") ? main : advancedBody).append(field.el);
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

  buildField(name, prop, required) {
    const id = `f-${name}`;
    const label = fieldLabel(name, prop);
    const errorEl = h("p.field-error", { id: `${id}-error`, role: "alert", hidden: true });
    const help = prop.description ? h("p.field-help", { id: `${id}-help` }, prop.description) : null;
    const field = { name, prop, required, errorEl, label };
    let control;
    let aside = null;

    if (prop.renderType === "loras") {
      const rows = new LoraRows({
        name,
        prop,
        schema: this.schema,
        available: this.loras,
        onChange: () => {
          this.clearFieldError(name);
          this.changed();
        },
      });
      field.rows = rows;
      field.get = () => rows.get();
      field.set = (v) => rows.set(v);
      field.focus = () => rows.focus();
      field.check = () => rows.check().map((p) => ({ field: name, index: p.index, message: p.message }));
      control = rows.el;
      aside = h("span.field-aside", {}, `up to ${prop.maxItems ?? 3} · applied to this run only`);
    } else if (isImageArray(prop)) {
      const list = new ImageList({
        api: this.api,
        name,
        min: prop.minItems ?? 0,
        max: prop.maxItems ?? 3,
        fileInput: this.fileInput,
        label,
        onChange: () => {
          this.clearFieldError(name);
          this.changed();
        },
      });
      this.imageField = list;
      field.images = list;
      field.get = () => list.refs();
      field.set = (v) => list.setRemote((Array.isArray(v) ? v : v ? [v] : []).map((u) => (typeof u === "string" ? { url: u } : u)));
      field.focus = () => (list.list.querySelector("button") || list.urlInput).focus();
      control = list.el;
      aside = h("span.field-aside", {}, `${prop.minItems ?? 0}–${prop.maxItems ?? 3} · Picture 1…${prop.maxItems ?? 3} in the prompt`);
    } else if (prop.enum && prop.enum.length > 8) {
      const select = h("select.input", { id }, prop.enum.map((o) => h("option", { value: o }, optionLabel(name, o))));
      select.value = prop.default ?? prop.enum[0];
      select.addEventListener("change", () => this.changed());
      field.get = () => select.value;
      field.set = (v) => (select.value = v);
      field.focus = () => select.focus();
      control = select;
    } else if (prop.enum) {
      control = this.segmented(name, prop, field, label);
    } else if (prop.type === "boolean") {
      const input = h("input", { type: "checkbox", id, role: "switch", "aria-describedby": help ? help.id : null });
      input.checked = prop.default === true;
      input.addEventListener("change", () => this.changed());
      field.get = () => input.checked;
      field.set = (v) => (input.checked = !!v);
      field.focus = () => input.focus();
      control = h("label.switch", { for: id }, input, h("span.switch-track", { "aria-hidden": "true" }), h("span.switch-label", {}, label));
      const el = h("div.field.field-switch", { dataset: { field: name } }, control, help, errorEl);
      field.el = el;
      return field;
    } else if (name === "seed" && (prop.type === "integer" || prop.type === "number")) {
      control = this.seedControl(name, prop, field, id, help);
    } else if (prop.type === "integer" || prop.type === "number") {
      control = this.numberControl(name, prop, field, id, help);
    } else {
      const multiline = prop.renderType === "textarea";
      const input = multiline
        ? h("textarea.input.textarea", { id, rows: 4, placeholder: name === "prompt" ? "Describe the edit. e.g. “Put the person from Picture 1 next to the product in Picture 2, studio lighting”" : "" })
        : h("input.input", { id, type: "text", placeholder: name === "negative_prompt" ? "e.g. blurry, low quality (a single space keeps CFG on)" : "" });
      input.setAttribute("aria-describedby", [help && help.id, errorEl.id].filter(Boolean).join(" "));
      if (required) input.setAttribute("aria-required", "true");
      if (prop.maxLength) input.maxLength = prop.maxLength;
      input.value = prop.default ?? "";
      const counter = prop.maxLength && multiline ? h("span.field-aside.counter", {}, `0 / ${prop.maxLength}`) : null;
      input.addEventListener("input", () => {
        if (counter) counter.textContent = `${input.value.length} / ${prop.maxLength}`;
        this.clearFieldError(name);
        this.changed();
      });
      field.input = input;
      field.get = () => input.value;
      field.set = (v) => {
        input.value = v ?? "";
        if (counter) counter.textContent = `${input.value.length} / ${prop.maxLength}`;
      };
      field.focus = () => input.focus();
      control = input;
      aside = counter;
    }

    const labelEl = isImageArray(prop) || field.rows || (prop.enum && prop.enum.length <= 8)
      ? h("span.field-label", { id: `${id}-label` }, label, required ? h("span.req", { "aria-hidden": "true" }, " *") : null)
      : h("label.field-label", { for: id }, label, required ? h("span.req", { "aria-hidden": "true" }, " *") : null);
    field.el = h(
      "div.field",
      { dataset: { field: name }, role: isImageArray(prop) || field.rows ? "group" : null, "aria-labelledby": isImageArray(prop) || field.rows ? `${id}-label` : null },
      h("div.field-head", {}, labelEl, aside),
      control,
      help,
      errorEl,
    );
    return field;
  }

  segmented(name, prop, field, label) {
    const group = h("div.segmented", { role: "radiogroup", "aria-labelledby": `f-${name}-label` });
    const inputs = [];
    for (const option of prop.enum) {
      const input = h("input.visually-hidden", { type: "radio", name: `f-${name}`, value: option, id: `f-${name}-${option.replace(/\W/g, "_")}` });
      input.checked = option === prop.default;
      input.addEventListener("change", () => {
        this.clearFieldError(name);
        this.changed();
      });
      inputs.push(input);
      const glyph = name === "aspect_ratio" ? ratioGlyph(option) : null;
      group.append(h("label.seg", { for: input.id, title: `${label}: ${option}` }, input, glyph, h("span", {}, optionLabel(name, option))));
    }
    if (name === "output_format") group.classList.add("segmented-compact");
    field.get = () => inputs.find((i) => i.checked)?.value;
    field.set = (v) => inputs.forEach((i) => (i.checked = i.value === v));
    field.focus = () => (inputs.find((i) => i.checked) || inputs[0]).focus();
    return group;
  }

  numberControl(name, prop, field, id, help) {
    const { min, max } = limits(prop);
    const step = prop.type === "integer" ? 1 : 0.1;
    const number = h("input.input.input-num", { id, type: "number", step, min, max, inputmode: prop.type === "integer" ? "numeric" : "decimal" });
    number.setAttribute("aria-describedby", [help && help.id, `${id}-error`].filter(Boolean).join(" "));
    const range = min !== undefined && max !== undefined && max - min <= 1000
      ? h("input.range", { type: "range", min, max, step, "aria-hidden": "true", tabindex: "-1" })
      : null;
    const sync = (source) => {
      if (source === range && range) number.value = range.value;
      if (source === number && range && number.value !== "") range.value = number.value;
      if (range) paintRange(range);
      this.clearFieldError(name);
      this.changed();
    };
    number.addEventListener("input", () => sync(number));
    range?.addEventListener("input", () => sync(range));
    field.get = () => (number.value === "" ? undefined : Number(number.value));
    field.set = (v) => {
      number.value = v ?? "";
      if (range && v !== undefined && v !== null) range.value = v;
      if (range) paintRange(range);
    };
    field.focus = () => number.focus();
    field.set(prop.default);
    return h("div.number-row", {}, range, number);
  }

  seedControl(name, prop, field, id, help) {
    const number = h("input.input.input-num.input-seed", { id, type: "number", min: 0, max: SEED_SPACE - 1, step: 1, inputmode: "numeric", placeholder: "random" });
    number.setAttribute("aria-describedby", [help && help.id, `${id}-error`].filter(Boolean).join(" "));
    const lock = h("button.btn.btn-ghost.btn-icon.seed-lock", { type: "button", "aria-pressed": "false" });
    const dice = h("button.btn.btn-ghost.btn-icon", { type: "button", "aria-label": "New random seed (locks it)", title: "New random seed" }, icon("dice"));
    const paint = () => {
      const locked = field.locked;
      lock.setAttribute("aria-pressed", String(locked));
      lock.setAttribute("aria-label", locked ? "Seed locked: every run uses it. Unlock to randomise." : "Seed random for each run. Lock to reuse.");
      lock.title = locked ? "Locked: reused every run" : "Random each run";
      clear(lock).append(icon(locked ? "lock" : "unlock"));
      number.classList.toggle("is-random", !locked);
    };
    field.locked = false;
    number.addEventListener("input", () => {
      field.locked = number.value !== "";
      paint();
      this.clearFieldError(name);
      this.changed();
    });
    lock.addEventListener("click", () => {
      if (field.locked) {
        field.locked = false;
        if (number.value) number.placeholder = `random (last ${number.value})`;
        number.value = "";
      } else {
        field.locked = true;
        if (!number.value) number.value = field.lastSeed ?? randomSeed();
      }
      paint();
      this.changed();
    });
    dice.addEventListener("click", () => {
      number.value = randomSeed();
      field.locked = true;
      paint();
      this.changed();
    });
    field.get = () => (field.locked && number.value !== "" ? Number(number.value) : undefined);
    field.set = (v) => {
      if (v === undefined || v === null || v === "") {
        field.locked = false;
        number.value = "";
      } else {
        field.locked = true;
        number.value = v;
      }
      paint();
    };
    field.noteUsed = (seed) => {
      field.lastSeed = seed;
      if (!field.locked) number.placeholder = `random (last ${seed})`;
    };
    field.focus = () => number.focus();
    paint();
    return h("div.seed-row", {}, number, dice, lock);
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
      else if (field.prop.default !== undefined) field.set(field.prop.default);
    }
    this.clearErrors();
    this.changed();
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

function optionLabel(name, option) {
  if (option === "auto") return "Auto";
  if (name === "output_format") return option.toUpperCase();
  return String(option);
}

function shortLabel(name, label) {
  return { num_inference_steps: "steps", true_cfg_scale: "CFG" }[name] || label.toLowerCase();
}

export function randomSeed() {
  const buf = new Uint32Array(1);
  crypto.getRandomValues(buf);
  return buf[0];
}

function paintRange(range) {
  const min = Number(range.min);
  const max = Number(range.max);
  const pct = ((Number(range.value) - min) / (max - min)) * 100;
  range.style.setProperty("--fill", `${pct}%`);
}

function ratioGlyph(option) {
  if (option === "auto") {
    return h("span.ratio-glyph.ratio-auto", { "aria-hidden": "true" });
  }
  const [w, hgt] = option.split(":").map(Number);
  const scale = 16 / Math.max(w, hgt);
  const glyph = h("span.ratio-glyph", { "aria-hidden": "true" });
  glyph.style.setProperty("--w", `${Math.round(w * scale)}px`);
  glyph.style.setProperty("--h", `${Math.round(hgt * scale)}px`);
  return glyph;
}
