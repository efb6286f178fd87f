// The controls of the schema form, one per property: text, select or segmented choice,
// switch, number with a range slider, the seed (random each run, or locked), the picture
// list and the LoRA rows. Each edit calls the form's clearFieldError(name) and changed().

import { h, icon, clear, fieldLabel } from "./dom.js";
import { ImageList } from "./images.js";
import { LoraRows } from "./loras.js";
import { MaskPainter, isMaskProp } from "./maskpaint.js";
import { ControlPanel, isControlProp } from "./control.js";
import { isImageArray, limits } from "./schema.js";
import { imageProperty } from "./models.js";

const SEED_SPACE = 2 ** 32;

/** The field of one property: {name, prop, required, errorEl, label, el, get, set, focus, …}. */
export function buildField(form, name, prop, required) {
  const id = `f-${name}`;
  const label = fieldLabel(name, prop);
  const errorEl = h("p.field-error", { id: `${id}-error`, role: "alert", hidden: true });
  let help = prop.description ? h("p.field-help", { id: `${id}-help` }, prop.description) : null;
  const field = { name, prop, required, errorEl, label };
  let control;
  let aside = null;

  if (prop.renderType === "loras") {
    const rows = new LoraRows({
      name,
      prop,
      schema: form.schema,
      available: form.loras,
      onChange: () => {
        form.clearFieldError(name);
        form.changed();
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
      api: form.api,
      name,
      min: prop.minItems ?? 0,
      max: prop.maxItems ?? 3,
      fileInput: form.fileInput,
      label,
      onChange: () => {
        form.clearFieldError(name);
        for (const other of form.fields.values()) other.picturesChanged?.();
        form.changed();
      },
    });
    field.images = list;
    field.get = () => list.refs();
    field.set = (v) => list.setRemote((Array.isArray(v) ? v : v ? [v] : []).map((u) => (typeof u === "string" ? { url: u } : u)));
    field.focus = () => (list.list.querySelector("button") || list.urlInput).focus();
    control = list.el;
    aside = h("span.field-aside", {}, `${prop.minItems ?? 0}–${prop.maxItems ?? 3} · Picture 1…${prop.maxItems ?? 3} in the prompt`);
  } else if (isMaskProp(name, prop) && form.imageField) {
    // a masked edit's `mask`: painted over Picture 1 (maskpaint.js)
    const painter = new MaskPainter({
      api: form.api,
      form,
      name,
      id,
      onChange: () => {
        form.clearFieldError(name);
        form.changed();
      },
    });
    Object.assign(field, {
      painter,
      get: () => painter.get(),
      set: (v) => painter.set(v),
      reset: () => painter.set(undefined),
      focus: () => painter.focus(),
      check: () => painter.check(),
      ready: () => painter.ready(),
      picturesChanged: () => painter.picturesChanged(),
      adopts: (other) => other === `${name}_feather`,
      adopt: (other) => painter.adoptFeather(other),
    });
    control = painter.el;
    aside = h("span.field-aside", {}, "optional · only what you paint changes");
    help = null; // the painter says what it does (the schema's words are for API callers)
  } else if (isControlProp(prop) && form.imageField) {
    // an edit's `control`: a map made from a picture, the last picture (control.js)
    const panel = new ControlPanel({ api: form.api, form, name, id, prop, onChange: () => { form.clearFieldError(name); form.changed(); } });
    Object.assign(field, panel.fieldInterface());
    control = panel.el;
    aside = h("span.field-aside", {}, "optional · the map becomes the last picture");
    help = null; // the panel says what it does
  } else if (prop.enum && prop.enum.length > 8) {
    const select = h("select.input", { id }, prop.enum.map((o) => h("option", { value: o }, optionLabel(name, o))));
    select.value = prop.default ?? prop.enum[0];
    select.addEventListener("change", () => form.changed());
    field.get = () => select.value;
    field.set = (v) => (select.value = v);
    field.focus = () => select.focus();
    control = select;
  } else if (prop.enum) {
    control = segmented(form, name, prop, field, label);
  } else if (prop.type === "boolean") {
    const input = h("input", { type: "checkbox", id, role: "switch", "aria-describedby": help ? help.id : null });
    input.checked = prop.default === true;
    input.addEventListener("change", () => form.changed());
    field.get = () => input.checked;
    field.set = (v) => (input.checked = !!v);
    field.focus = () => input.focus();
    control = h("label.switch", { for: id }, input, h("span.switch-track", { "aria-hidden": "true" }), h("span.switch-label", {}, label));
    const el = h("div.field.field-switch", { dataset: { field: name } }, control, help, errorEl);
    field.el = el;
    return field;
  } else if (name === "seed" && (prop.type === "integer" || prop.type === "number")) {
    control = seedControl(form, name, prop, field, id, help);
  } else if (prop.type === "integer" || prop.type === "number") {
    control = numberControl(form, name, prop, field, id, help);
  } else {
    const multiline = prop.renderType === "textarea";
    const input = multiline
      ? h("textarea.input.textarea", { id, rows: 4, placeholder: name === "prompt" ? promptPlaceholder(form.schema) : "" })
      : h("input.input", { id, type: "text", placeholder: name === "negative_prompt" ? "e.g. blurry, low quality (a single space keeps CFG on)" : "" });
    input.setAttribute("aria-describedby", [help && help.id, errorEl.id].filter(Boolean).join(" "));
    if (required) input.setAttribute("aria-required", "true");
    if (prop.maxLength) input.maxLength = prop.maxLength;
    input.value = prop.default ?? "";
    const counter = prop.maxLength && multiline ? h("span.field-aside.counter", {}, `0 / ${prop.maxLength}`) : null;
    input.addEventListener("input", () => {
      if (counter) counter.textContent = `${input.value.length} / ${prop.maxLength}`;
      form.clearFieldError(name);
      form.changed();
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

  const labelEl = isImageArray(prop) || field.rows || field.painter || field.panel || (prop.enum && prop.enum.length <= 8)
    ? h("span.field-label", { id: `${id}-label` }, label, required ? h("span.req", { "aria-hidden": "true" }, " *") : null)
    : h("label.field-label", { for: id }, label, required ? h("span.req", { "aria-hidden": "true" }, " *") : null);
  field.el = h(
    "div.field",
    { dataset: { field: name }, role: isImageArray(prop) || field.rows || field.painter || field.panel ? "group" : null, "aria-labelledby": isImageArray(prop) || field.rows || field.painter || field.panel ? `${id}-label` : null },
    h("div.field-head", {}, labelEl, aside),
    control,
    help,
    errorEl,
  );
  return field;
}

function segmented(form, name, prop, field, label) {
  const group = h("div.segmented", { role: "radiogroup", "aria-labelledby": `f-${name}-label` });
  const inputs = [];
  // An enum may be of numbers (qwen-image-layered's resolution: 640 | 1024): the radios
  // hold strings, the field gives back the schema's own value.
  for (const option of prop.enum) {
    const input = h("input.visually-hidden", { type: "radio", name: `f-${name}`, value: String(option), id: `f-${name}-${String(option).replace(/\W/g, "_")}` });
    input.checked = option === prop.default;
    input.addEventListener("change", () => {
      form.clearFieldError(name);
      form.changed();
    });
    inputs.push(input);
    const glyph = name === "aspect_ratio" ? ratioGlyph(option) : null;
    group.append(h("label.seg", { for: input.id, title: `${label}: ${option}` }, input, glyph, h("span", {}, optionLabel(name, option))));
  }
  if (name === "output_format") group.classList.add("segmented-compact");
  field.get = () => prop.enum[inputs.findIndex((i) => i.checked)];
  field.set = (v) => inputs.forEach((i) => (i.checked = i.value === String(v)));
  field.focus = () => (inputs.find((i) => i.checked) || inputs[0]).focus();
  return group;
}

function numberControl(form, name, prop, field, id, help) {
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
    form.clearFieldError(name);
    form.changed();
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

function seedControl(form, name, prop, field, id, help) {
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
    form.clearFieldError(name);
    form.changed();
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
    form.changed();
  });
  dice.addEventListener("click", () => {
    number.value = randomSeed();
    field.locked = true;
    paint();
    form.changed();
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

function promptPlaceholder(schema) {
  return imageProperty(schema)
    ? "Describe the edit. e.g. “Put the person from Picture 1 next to the product in Picture 2, studio lighting”"
    : "Describe the picture. e.g. “A red fox in the snow at dawn, watercolour, a wooden sign that reads ‘Open’”";
}

function optionLabel(name, option) {
  if (option === "auto") return "Auto";
  if (name === "output_format") return option.toUpperCase();
  // optimize_for_quality → "Optimize for quality" (the value itself is in the title)
  if (/^[a-z]+(_[a-z]+)+$/.test(option)) return option.charAt(0).toUpperCase() + option.slice(1).replace(/_/g, " ");
  return String(option);
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
