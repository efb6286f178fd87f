// The `control` field of an edit model's form: a control map made from a picture on a
// worker and given to the model as its LAST picture (Picture N, N = pictures + 1). The
// panel picks the type (none by default), the source picture (one of the pictures,
// an upload — browse or drop — or a URL), "this picture is already a map" (preprocess
// false), the type's options (their ranges from the schema), "Preview map" (POST
// /api/ai/images/control-map: the map computed alone, before running) and "Use as
// picture" (the map as an ordinary input picture instead of a control). A note says
// which Picture the map becomes and warns when the picture budget is exceeded. With a
// type and a picture set, the request carries `control` as an object.

import { toast } from "./dom.js";
import { limits } from "./schema.js";
import { optionLabel, typeOptions } from "./controlref.js";
import { renderOptions, renderPanel, showPanel } from "./controlview.js";

export { isControlProp, controlChip, controlSourceUrlOf } from "./controlref.js";

export class ControlPanel {
  /** @param {{api, form, name, id, prop, onChange}} options */
  constructor({ api, form, name, id, prop, onChange }) {
    Object.assign(this, { api, form, name, id, prop });
    this.onChange = onChange || (() => {});
    this.type = "";
    this.source = null; // {url, thumb, name, status: "uploading" | "ready" | "error", error}
    this.preprocess = true;
    this.values = {}; // option name → number (only what was typed)
    this.preview = null; // the answer of POST /api/ai/images/control-map, for previewKey
    this.previewKey = "";
    this.busy = null;
    this.el = this.render();
    this.show();
  }

  // --- the field's interface (fields.js) ------------------------------------------------
  fieldInterface() {
    return {
      panel: this,
      get: () => this.get(),
      set: (v) => this.set(v),
      reset: () => this.set(undefined),
      focus: () => this.typeSelect.focus(),
      check: () => this.check(),
      ready: () => this.ready(),
      picturesChanged: () => this.show(),
    };
  }

  /** The `control` object to send; undefined with no type, or no picture ready yet. */
  get() {
    if (!this.type || this.source?.status !== "ready") return undefined;
    const control = { type: this.type, image: this.source.url, preprocess: this.preprocess };
    if (this.preprocess) {
      for (const { name } of typeOptions(this.prop, this.type)) {
        if (this.values[name] !== undefined) control[name] = this.values[name];
      }
    }
    return control;
  }

  /** A run's (or a draft's) control back in the panel; nothing, "" or {}: no control. */
  set(value) {
    const control = value && typeof value === "object" && value.type ? value : null;
    this.type = control ? control.type : "";
    this.preprocess = control ? control.preprocess !== false : true;
    this.values = {};
    if (control) {
      for (const { name } of typeOptions(this.prop, control.type)) {
        if (typeof control[name] === "number") this.values[name] = control[name];
      }
    }
    const url = control && typeof control.image === "string" ? control.image.trim() : "";
    this.source = url ? { url, thumb: url, name: "", status: "ready" } : null;
    this.typeSelect.value = this.type;
    this.readySwitch.checked = !this.preprocess;
    this.renderOptions();
    this.show();
  }

  check() {
    if (!this.type) return [];
    const problem = (message) => [{ field: this.name, message }];
    if (!this.source) return problem("Choose the picture the control map is made from (or set the type to None)");
    if (this.source.status === "uploading") return problem("Wait for the control picture to upload");
    if (this.source.status === "error") return problem(`The control picture: ${this.source.error}`);
    const over = this.budget();
    if (over) return problem(over);
    return this.optionProblems().map((message) => ({ field: this.name, message }));
  }

  async ready() {
    while (this.uploading) await this.uploading;
  }

  // --- pictures -------------------------------------------------------------------------
  pictures() {
    return this.form.imageField?.items || [];
  }

  /** Picture N the map becomes, and the most pictures the model takes. */
  slot() {
    return { n: this.pictures().length + 1, max: this.form.imageField?.max ?? 3 };
  }

  /** Why the map does not fit, or "". */
  budget() {
    const { n, max } = this.slot();
    if (n <= max) return "";
    if (max === 1) return "The map would be Picture 2, and this model takes one picture: it has no room for a control map";
    return `The map would be Picture ${n}; at most ${max} pictures (${max - 1} pictures + the map): remove a picture or set the control to None`;
  }

  optionProblems() {
    const problems = [];
    for (const { name, prop } of typeOptions(this.prop, this.type)) {
      const value = this.values[name];
      if (value === undefined) continue;
      const { min, max } = limits(prop);
      const label = optionLabel(name);
      if (Number.isNaN(value)) problems.push(`${label} must be a number`);
      else if (prop.type === "integer" && !Number.isInteger(value)) problems.push(`${label} must be a whole number`);
      else if ((min !== undefined && value < min) || (max !== undefined && value > max)) problems.push(`${label} must be ${min}–${max}`);
    }
    return problems;
  }

  /** The source: a picture given by URL (or an existing picture's link). */
  useUrl(url, name = "", thumb = "") {
    this.source = { url, thumb: thumb || url, name: name || url, status: "ready" };
    this.edited();
  }

  /** The source: a file, uploaded at once (the request then carries its upload URL). */
  useFile(file) {
    if (!file.type.startsWith("image/")) {
      toast(`${file.name || "That file"} is not an image`, "error");
      return;
    }
    const source = { url: null, thumb: URL.createObjectURL(file), local: true, name: file.name || "picture", status: "uploading" };
    this.source = source;
    this.uploading = this.api
      .upload(file, source.name)
      .then((result) => Object.assign(source, { url: result.url, status: "ready" }))
      .catch((err) => Object.assign(source, { status: "error", error: err.detail ? err.detail.replace(/^\w+:\s*/, "") : err.message }))
      .finally(() => {
        this.uploading = null;
        if (this.source === source) this.edited();
      });
    this.edited();
  }

  browse() {
    const input = this.form.fileInput;
    input.value = "";
    input.onchange = () => {
      if (input.files[0]) this.useFile(input.files[0]);
      input.value = "";
    };
    input.click();
  }

  // --- the map --------------------------------------------------------------------------
  /** What the preview is of: type, picture and options. */
  key() {
    const control = this.get();
    return control ? JSON.stringify(control) : "";
  }

  /** POST /api/ai/images/control-map: the map computed alone (a short job on a worker). */
  async previewMap() {
    const control = this.get();
    if (!control || this.busy) return;
    const problems = this.optionProblems();
    if (problems.length) return this.showStatus(problems.join(" · "), "error");
    const key = this.key();
    const { type, image, preprocess, ...options } = control;
    this.busy = key;
    this.show();
    this.showStatus("Computing the map on a worker…");
    try {
      const map = await this.api.request("POST", "/api/ai/images/control-map", { json: { type, image, ...options } });
      if (this.key() !== key) return;
      this.preview = map;
      this.previewKey = key;
      this.showStatus("");
    } catch (err) {
      if (this.key() === key) this.showStatus(`The map could not be made: ${err.detail || err.message}`, "error");
    } finally {
      this.busy = null;
      this.show();
    }
  }

  /** The computed map (or the ready map) as an ordinary input picture, not a control. */
  useAsPicture() {
    const images = this.form.imageField;
    const url = this.mapUrl();
    if (!images || !url) return;
    if (images.isFull()) {
      toast(`All ${images.max} pictures are used — remove one first`, "error");
      return;
    }
    const type = this.type;
    images.addRemote({ url, thumb: url, name: `${type} map` });
    this.set(undefined);
    this.onChange();
    toast(`The ${type} map is now Picture ${images.items.length}, an ordinary picture (no control)`, "ok");
  }

  /** The map to use as a picture: the preview of what is set, or the picture itself
   * when it is a map already. */
  mapUrl() {
    if (!this.get()) return null;
    if (!this.preprocess) return this.source.url;
    return this.preview && this.previewKey === this.key() ? this.preview.url : null;
  }

  edited() {
    if (!this.busy) this.showStatus("");
    this.show();
    this.onChange();
  }

  // --- what is shown (controlview.js) ---------------------------------------------------
  render() {
    return renderPanel(this);
  }

  renderOptions() {
    renderOptions(this);
  }

  show() {
    showPanel(this);
  }

  showStatus(text, kind = "") {
    this.status.textContent = text;
    this.status.hidden = !text;
    this.status.dataset.kind = kind;
  }

  /** A source picture that does not load by its link (an upload URL needs the key):
   * fetched with the key and shown from a blob. */
  async thumbFallback() {
    const source = this.source;
    if (!source?.url || source.thumbTried) return;
    source.thumbTried = true;
    try {
      source.thumb = URL.createObjectURL(await this.api.fetchBlob(source.url));
      source.local = true;
      if (this.source === source) this.sourceImg.src = source.thumb;
    } catch {
      /* shown broken: the server may still read it */
    }
  }
}
