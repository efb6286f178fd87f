// The `mask` field of an edit model's form: a painter over Picture 1. A canvas the size
// of Picture 1 (shown scaled, painted at Picture 1's real pixel size) lies over the
// picture; brush and eraser (mouse, pen and touch, by pointer events), brush size,
// invert and clear. What is painted is the region to change: after each stroke it is
// exported as a PNG (white = edit on black, exactly Picture 1's size) and uploaded, like
// the pictures, so the request and the API tab's snippets carry a short upload URL.
// Nothing painted: no `mask` is sent. A run's mask comes back into the canvas when its
// parameters are restored. This module is the panel and the form field; the canvas work
// (strokes, invert, the PNG export, a mask read back) is maskcanvas.js's. isMaskProp and
// the helpers that find a run's stored mask are maskref.js's, re-exported here.

import { h, clear } from "./dom.js";
import { canvasPoint, clearPaint, dataUri, drawMask, exportMask, fetchPicture, invertPaint, paintStroke, pictureKey, readMask } from "./maskcanvas.js";

export { isMaskProp, maskChip, maskUrlOf, pictureUrlsOf } from "./maskref.js";

const GLYPHS = {
  brush: '<path d="M4 20c3 0 5-1.5 5-4a2.5 2.5 0 0 0-5 0c0 1.6-1 2.6-2 3"/><path d="M9.5 13.5 19 4a1.4 1.4 0 0 1 2 2l-9.5 9.5"/>',
  eraser: '<path d="m7 20-4-4a1.5 1.5 0 0 1 0-2L13 4a1.5 1.5 0 0 1 2 0l5 5a1.5 1.5 0 0 1 0 2l-9 9z"/><path d="M7 20h13M8.5 8.5l7 7"/>',
  invert: '<circle cx="12" cy="12" r="8"/><path d="M12 4a8 8 0 0 1 0 16z" fill="currentColor"/>',
  clear: '<path d="M5 7h14M10 7V4.5h4V7m-7 0 1 13h8l1-13"/>',
};

function glyph(name) {
  const span = document.createElement("span");
  span.className = "icon";
  span.setAttribute("aria-hidden", "true");
  span.innerHTML =
    `<svg viewBox="0 0 24 24" width="24" height="24" fill="none" stroke="currentColor" ` +
    `stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">${GLYPHS[name]}</svg>`;
  return span;
}

// --- the painter ------------------------------------------------------------------------------
export class MaskPainter {
  /** @param {{api, form, name, id, onChange}} options */
  constructor({ api, form, name, id, onChange }) {
    this.api = api;
    this.form = form;
    this.name = name;
    this.id = id;
    this.onChange = onChange || (() => {});
    this.picture = null; // {key, src, width, height}
    this.pictureKey = null;
    this.pictureReady = Promise.resolve(null);
    this.version = 0; // bumped by every change of what is painted
    this.ref = undefined; // the mask reference to send, valid for refVersion
    this.refVersion = 0;
    this.coverage = 0; // painted share of Picture 1 (null: unknown, a mask not shown)
    this.syncing = null;
    this.pointer = null;
    this.feather = null;
    this.sizeNote = "";
    this.el = this.render();
    this.showState();
  }

  // --- the field's interface (fields.js) ----------------------------------------------------
  /** The reference to send: an upload URL (or, if uploading failed, a data URI), a
   * restored or pasted URL; undefined when nothing is painted or it is being uploaded. */
  get() {
    return this.refVersion === this.version ? this.ref : undefined;
  }

  /** Put a mask back (restore, a saved draft, a pasted URL): it is sent as it is and
   * shown in the canvas once Picture 1 and the mask have loaded. */
  set(value) {
    const url = typeof value === "string" ? value.trim() : "";
    this.version++;
    this.ref = url || undefined;
    this.refVersion = this.version;
    this.coverage = url ? null : 0;
    this.sizeNote = "";
    if (this.ctx) this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (url) {
      this.details.open = true;
      this.loadMask(url, this.version);
    }
    this.showState();
  }

  /** The form's checks: a mask must leave part of Picture 1 as it is. */
  check() {
    if (this.coverage === 1) return [{ field: this.name, message: "The mask covers all of Picture 1: erase part of it (or clear it to change the whole picture)" }];
    if (this.syncing) return [{ field: this.name, message: "Wait for the mask to upload" }];
    return [];
  }

  /** Resolves once the painted mask is uploaded (Run waits for it). */
  async ready() {
    while (this.syncing) await this.syncing;
  }

  focus() {
    (this.details.open ? this.brushInput : this.summary).focus();
  }

  /** mask_feather's field moves next to the painter; without a mask it is not sent. */
  adoptFeather(field) {
    this.feather = field;
    const get = field.get;
    field.get = () => (this.get() ? get() : undefined);
    this.featherSlot.append(field.el);
  }

  hasMask() {
    return !!this.get();
  }

  // --- Picture 1 ----------------------------------------------------------------------------
  /** The pictures changed: a new Picture 1 clears the mask (it was made for another). */
  picturesChanged() {
    const item = this.form.imageField?.items[0];
    const key = item ? pictureKey(item) : null;
    if (key === this.pictureKey) return;
    this.pictureKey = key;
    this.version++;
    this.ref = undefined;
    this.refVersion = this.version;
    this.coverage = 0;
    this.sizeNote = "";
    this.picture = null;
    if (this.ctx) this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.image.removeAttribute("src");
    this.pictureReady = item ? this.loadPicture(item, key) : Promise.resolve(null);
    this.showState();
  }

  async loadPicture(item, key) {
    const { img, src } = await fetchPicture(this.api, item);
    if (key !== this.pictureKey) return null;
    if (!img || !img.naturalWidth) {
      this.showState("Picture 1 could not be loaded here, so there is nothing to paint on.");
      return null;
    }
    this.picture = { key, src, width: img.naturalWidth, height: img.naturalHeight };
    this.image.src = src;
    this.canvas.width = this.picture.width;
    this.canvas.height = this.picture.height;
    this.ctx = this.canvas.getContext("2d", { willReadFrequently: true });
    this.stage.style.setProperty("--r", String(this.picture.width / this.picture.height));
    const longest = Math.max(this.picture.width, this.picture.height);
    this.brushInput.max = String(Math.max(16, Math.round(longest / 4)));
    if (!this.brushSet) this.brushInput.value = String(Math.max(4, Math.round(longest / 16)));
    this.showBrush();
    this.showState();
    return this.picture;
  }

  // --- painting -----------------------------------------------------------------------------
  point(e) {
    return canvasPoint(this.canvas, e);
  }

  erasing() {
    return this.eraserRadio.checked;
  }

  stroke(from, to) {
    paintStroke(this.ctx, from, to, this.brushSize(), this.erasing());
  }

  brushSize() {
    return Number(this.brushInput.value) || 1;
  }

  onPointerDown(e) {
    if (!this.picture || this.pointer !== null || (e.pointerType === "mouse" && e.button !== 0)) return;
    e.preventDefault();
    this.pointer = e.pointerId;
    try {
      this.canvas.setPointerCapture(e.pointerId);
    } catch {
      /* a synthetic pointer cannot be captured: the stroke still follows it */
    }
    this.last = this.point(e);
    this.stroke(this.last, this.last);
    this.moveCursor(e);
  }

  onPointerMove(e) {
    this.moveCursor(e);
    if (e.pointerId !== this.pointer) return;
    const events = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) {
      const p = this.point(ev);
      this.stroke(this.last, p);
      this.last = p;
    }
  }

  onPointerUp(e) {
    if (e.pointerId !== this.pointer) return;
    if (e.type === "pointerup") {
      const p = this.point(e);
      this.stroke(this.last, p);
    }
    this.pointer = null;
    this.edited();
  }

  invert() {
    if (!this.picture) return;
    invertPaint(this.canvas, this.ctx);
    this.edited();
  }

  clearMask() {
    if (!this.picture) return;
    clearPaint(this.canvas, this.ctx);
    this.edited();
  }

  /** What is painted changed: export and upload it (strokes made meanwhile follow). */
  edited() {
    this.version++;
    this.coverage = null;
    if (!this.syncing) {
      this.syncing = this.sync().finally(() => {
        this.syncing = null;
        this.showState();
        this.onChange();
      });
    }
    this.showState();
    this.onChange();
  }

  async sync() {
    while (this.refVersion !== this.version) {
      const version = this.version;
      const mask = this.picture ? await exportMask(this.canvas, this.ctx) : null;
      if (version !== this.version) continue;
      this.coverage = mask ? mask.count / mask.total : 0;
      let ref;
      if (mask && mask.count > 0 && mask.count < mask.total) {
        try {
          ref = (await this.api.upload(mask.blob, "mask.png")).url;
        } catch {
          ref = await dataUri(mask.blob); // the request can carry it itself
        }
      }
      if (version !== this.version) continue;
      this.ref = ref;
      this.refVersion = version;
    }
  }

  /** A mask image into the canvas: transparent = edit if it has transparency (OpenAI's
   * rule), else white = edit, as the server reads it. */
  async loadMask(url, version) {
    const picture = await this.pictureReady;
    if (!picture || version !== this.version) return;
    let bitmap;
    try {
      bitmap = await readMask(this.api, url);
    } catch {
      if (version === this.version) this.showState();
      return; // sent as it is; the server reads it
    }
    if (version !== this.version) return;
    const { width, height } = this.canvas;
    this.coverage = drawMask(this.canvas, this.ctx, bitmap);
    this.sizeNote = bitmap.width !== width || bitmap.height !== height ? `The mask is ${bitmap.width}×${bitmap.height}, Picture 1 is ${width}×${height}: the server will refuse it.` : "";
    this.showState();
  }

  // --- rendering ----------------------------------------------------------------------------
  render() {
    this.status = h("p.mask-status", { dataset: { testid: "mask-status" }, "aria-live": "polite" });
    this.featherSlot = h("div.mask-feather");
    this.body = h("div.mask-body", {}, this.renderStage(), this.renderTools(), this.featherSlot, this.renderUrlRow());
    this.empty = h("p.mask-empty.hint", {}, "Add Picture 1 to paint the region to change on it.");
    this.summaryState = h("span.mask-summary-state");
    this.summary = h("summary", {}, h("span", {}, "Paint on Picture 1"), this.summaryState);
    this.details = h("details.mask-details", {}, this.summary, this.body);
    this.details.open = localStorage.getItem("editserve.maskOpen") === "1";
    this.details.addEventListener("toggle", () => localStorage.setItem("editserve.maskOpen", this.details.open ? "1" : "0"));
    return h("div.mask-painter", {}, this.empty, this.details, this.status);
  }

  /** Picture 1 with the canvas over it, painted by pointer events (mouse, pen, touch). */
  renderStage() {
    this.canvas = h("canvas.mask-canvas", { "aria-label": "Mask over Picture 1: paint the region to change", role: "img", dataset: { testid: "mask-canvas" } });
    this.image = h("img.mask-picture", { alt: "", "aria-hidden": "true", draggable: false });
    this.cursor = h("span.mask-cursor", { "aria-hidden": "true", hidden: true });
    this.stage = h("div.mask-stage", {}, this.image, this.canvas, this.cursor);
    this.canvas.addEventListener("pointerdown", (e) => this.onPointerDown(e));
    this.canvas.addEventListener("pointermove", (e) => this.onPointerMove(e));
    this.canvas.addEventListener("pointerup", (e) => this.onPointerUp(e));
    this.canvas.addEventListener("pointercancel", (e) => this.onPointerUp(e));
    this.canvas.addEventListener("pointerleave", () => (this.cursor.hidden = true));
    this.canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    return this.stage;
  }

  /** Brush or eraser, the brush size, invert and clear. */
  renderTools() {
    const radio = (value, label, icon) => {
      const input = h("input.visually-hidden", { type: "radio", name: `${this.id}-tool`, value, id: `${this.id}-${value}` });
      input.addEventListener("change", () => this.showBrush());
      return [input, h("label.seg", { for: input.id, title: label }, input, glyph(icon), h("span", {}, label))];
    };
    const [brushRadio, brushLabel] = radio("brush", "Brush", "brush");
    const [eraserRadio, eraserLabel] = radio("eraser", "Eraser", "eraser");
    brushRadio.checked = true;
    this.eraserRadio = eraserRadio;
    this.brushInput = h("input.range", { type: "range", min: 1, max: 64, step: 1, value: 16, id: `${this.id}-size`, "aria-label": "Brush size (pixels of Picture 1)" });
    this.brushInput.addEventListener("input", () => {
      this.brushSet = true;
      this.showBrush();
    });
    this.brushValue = h("span.mask-size-value");
    return h(
      "div.mask-tools",
      {},
      h("div.segmented.segmented-compact", { role: "radiogroup", "aria-label": "Tool" }, brushLabel, eraserLabel),
      h("label.mask-size", { for: this.brushInput.id }, h("span", {}, "Size"), this.brushInput, this.brushValue),
      h("span.mask-actions", {},
        h("button.btn.btn-ghost.btn-sm", { type: "button", title: "Swap painted and unpainted", onclick: () => this.invert() }, glyph("invert"), h("span", {}, "Invert")),
        h("button.btn.btn-ghost.btn-sm", { type: "button", title: "Erase everything", onclick: () => this.clearMask() }, glyph("clear"), h("span", {}, "Clear")),
      ),
    );
  }

  /** A mask image's URL, typed or pasted, instead of painting. */
  renderUrlRow() {
    this.urlInput = h("input.input.input-sm", { type: "url", inputmode: "url", placeholder: "or a mask image URL", "aria-label": "Mask image URL" });
    const useUrl = () => {
      const url = this.urlInput.value.trim();
      if (!/^(https?:\/\/|data:image\/)/i.test(url)) return;
      this.urlInput.value = "";
      this.set(url);
      this.onChange();
    };
    this.urlInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        useUrl();
      }
    });
    return h("div.url-row", {}, this.urlInput, h("button.btn.btn-ghost.btn-sm", { type: "button", onclick: useUrl }, "Use URL"));
  }

  showBrush() {
    this.brushValue.textContent = `${this.brushSize()} px`;
    const fill = ((this.brushSize() - Number(this.brushInput.min)) / (Number(this.brushInput.max) - Number(this.brushInput.min))) * 100;
    this.brushInput.style.setProperty("--fill", `${fill}%`);
    this.stage.classList.toggle("erasing", this.erasing());
  }

  moveCursor(e) {
    if (e.pointerType !== "mouse" || !this.picture) {
      this.cursor.hidden = true;
      return;
    }
    const rect = this.canvas.getBoundingClientRect();
    const size = (this.brushSize() * rect.width) / this.canvas.width;
    this.cursor.hidden = false;
    this.cursor.style.width = this.cursor.style.height = `${size}px`;
    this.cursor.style.left = `${e.clientX - rect.left}px`;
    this.cursor.style.top = `${e.clientY - rect.top}px`;
  }

  showState(problem = "") {
    const hasPicture = !!this.form.imageField?.items.length;
    this.empty.hidden = hasPicture;
    this.details.hidden = !hasPicture;
    const state = this.syncing ? "uploading" : this.get() ? "ready" : "none";
    this.el.dataset.state = state;
    this.canvas.dataset.coverage = this.coverage === null ? "" : String(this.coverage);
    const pct = this.coverage ? Math.max(1, Math.round(this.coverage * 100)) : 0;
    let text;
    if (problem) text = problem;
    else if (!hasPicture) text = "";
    else if (this.syncing) text = "Saving the mask…";
    else if (this.get() && this.coverage === null) text = "Mask from a URL: only its region changes.";
    else if (this.get()) text = `Only the painted ${pct}% of Picture 1 changes; the rest stays as it is.`;
    else if (this.coverage === 1) text = "The mask covers all of Picture 1: erase part of it.";
    else text = "Nothing painted: the whole picture can change.";
    if (this.sizeNote && this.get()) text = `${text} ${this.sizeNote}`;
    this.status.textContent = text;
    this.status.hidden = !text || !hasPicture;
    clear(this.summaryState).append(this.get() ? (this.coverage ? `${pct}% painted` : "mask set") : "none");
    this.summaryState.dataset.set = String(!!this.get());
  }
}
