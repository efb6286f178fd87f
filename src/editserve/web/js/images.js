// The input-image field: 1–3 pictures by upload, URL, drag-and-drop or paste, shown as
// thumbnails labelled "Picture 1…3" (as the prompt refers to them), reorderable and
// removable. Files are uploaded at once (POST /api/ai/uploads) so the request — and the
// API tab's snippets — carry short upload URLs instead of megabytes of base64.

import { h, icon, clear, toast } from "./dom.js";

let nextId = 1;

export const ACCEPTED_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp"];

export function looksLikeImageRef(text) {
  const t = String(text || "").trim();
  return /^https?:\/\/\S+$/i.test(t) || /^data:image\/[\w.+-]+;base64,/i.test(t);
}

export class ImageList {
  /**
   * @param {{api, name, min, max, onChange, fileInput, label}} options
   */
  constructor({ api, name, min = 1, max = 3, onChange, fileInput, label = "Input images" }) {
    this.api = api;
    this.name = name;
    this.min = min;
    this.max = max;
    this.onChange = onChange || (() => {});
    this.fileInput = fileInput;
    this.items = [];
    this.dragId = null;
    this.el = this.render(label);
  }

  // --- state ---------------------------------------------------------------------------
  refs() {
    return this.items.filter((i) => i.status === "ready").map((i) => i.url);
  }

  pending() {
    return this.items.some((i) => i.status === "uploading");
  }

  failed() {
    return this.items.filter((i) => i.status === "error");
  }

  isFull() {
    return this.items.length >= this.max;
  }

  changed() {
    this.renderTiles();
    this.onChange();
  }

  /** Replace everything with already-usable refs: [{url, thumb, name}]. */
  setRemote(list) {
    for (const item of this.items) if (item.localThumb) URL.revokeObjectURL(item.thumb);
    this.items = list.slice(0, this.max).map((item) => ({
      id: nextId++,
      url: item.url,
      thumb: item.thumb || item.url,
      name: item.name || "",
      status: "ready",
      error: "",
    }));
    this.changed();
  }

  addRemote(item) {
    if (this.isFull()) return false;
    this.items.push({
      id: nextId++,
      url: item.url,
      thumb: item.thumb || item.url,
      name: item.name || "",
      status: "ready",
      error: "",
    });
    this.changed();
    return true;
  }

  addFiles(files) {
    let added = 0;
    for (const file of files) {
      if (!file.type.startsWith("image/")) {
        toast(`${file.name || "That file"} is not an image`, "error");
        continue;
      }
      if (this.isFull()) {
        toast(`At most ${this.max} input images — remove one first`, "error");
        break;
      }
      this.addBlob(file, file.name || "pasted image");
      added++;
    }
    return added;
  }

  /** Upload a Blob; the tile shows a local preview meanwhile. Resolves when done. */
  addBlob(blob, name, { replaceId = null } = {}) {
    const item = {
      id: nextId++,
      url: null,
      thumb: URL.createObjectURL(blob),
      localThumb: true,
      name,
      status: "uploading",
      error: "",
    };
    const at = replaceId === null ? -1 : this.items.findIndex((i) => i.id === replaceId);
    if (at >= 0) this.items.splice(at, 1, item);
    else this.items.push(item);
    this.changed();
    return this.api
      .upload(blob, name)
      .then((result) => {
        item.url = result.url;
        item.preview = result.preview_url || null;
        item.status = "ready";
        item.width = result.width;
        item.height = result.height;
      })
      .catch((err) => {
        item.status = "error";
        item.error = err.detail ? err.detail.replace(/^\w+:\s*/, "") : err.message;
      })
      .finally(() => {
        if (this.items.includes(item)) this.changed();
      });
  }

  addUrl(text) {
    const url = String(text || "").trim();
    if (!looksLikeImageRef(url)) {
      this.setFieldError("Enter an http(s) image URL or a data:image/… URI");
      return false;
    }
    if (this.isFull()) {
      this.setFieldError(`At most ${this.max} input images`);
      return false;
    }
    this.setFieldError("");
    return this.addRemote({ url, thumb: url, name: url.startsWith("data:") ? "data URI" : url });
  }

  remove(id) {
    const item = this.items.find((i) => i.id === id);
    if (item && item.localThumb) URL.revokeObjectURL(item.thumb);
    this.items = this.items.filter((i) => i.id !== id);
    this.changed();
  }

  move(id, delta) {
    const from = this.items.findIndex((i) => i.id === id);
    const to = from + delta;
    if (from < 0 || to < 0 || to >= this.items.length) return;
    const [item] = this.items.splice(from, 1);
    this.items.splice(to, 0, item);
    this.changed();
    // Keep keyboard focus on the moved tile's same button.
    const button = this.list.querySelector(
      `[data-id="${id}"] [data-move="${delta < 0 ? "left" : "right"}"]:not([disabled])`,
    );
    (button || this.list.querySelector(`[data-id="${id}"] [data-remove]`))?.focus();
  }

  moveBefore(id, targetId) {
    if (id === targetId) return;
    const item = this.items.find((i) => i.id === id);
    this.items = this.items.filter((i) => i.id !== id);
    const at = this.items.findIndex((i) => i.id === targetId);
    this.items.splice(at < 0 ? this.items.length : at, 0, item);
    this.changed();
  }

  // --- errors --------------------------------------------------------------------------
  setItemError(index, message) {
    const item = this.items[index];
    if (!item) return false;
    item.serverError = message;
    this.renderTiles();
    return true;
  }

  clearItemErrors() {
    for (const item of this.items) item.serverError = "";
  }

  setFieldError(message) {
    this.urlError.textContent = message;
    this.urlError.hidden = !message;
  }

  // --- rendering -----------------------------------------------------------------------
  render(label) {
    this.list = h("ol.tiles", { "aria-label": label });
    this.urlInput = h("input.input.input-sm", {
      type: "url",
      inputmode: "url",
      placeholder: "https://… image URL",
      "aria-label": "Image URL",
      onkeydown: (e) => {
        if (e.key === "Enter") {
          e.preventDefault();
          if (this.addUrl(this.urlInput.value)) this.urlInput.value = "";
        }
      },
    });
    this.urlError = h("p.field-error", { hidden: true });
    const addUrl = h(
      "button.btn.btn-ghost.btn-sm",
      {
        type: "button",
        onclick: () => {
          if (this.addUrl(this.urlInput.value)) this.urlInput.value = "";
        },
      },
      "Add URL",
    );
    const zone = h("div.images", {}, this.list, h("div.url-row", {}, this.urlInput, addUrl), this.urlError);
    zone.addEventListener("dragover", (e) => {
      if (this.dragId !== null || !hasFiles(e)) return;
      e.preventDefault();
      zone.classList.add("dropping");
    });
    zone.addEventListener("dragleave", (e) => {
      if (!zone.contains(e.relatedTarget)) zone.classList.remove("dropping");
    });
    zone.addEventListener("drop", (e) => {
      zone.classList.remove("dropping");
      if (this.dragId !== null) return;
      e.preventDefault();
      const files = [...(e.dataTransfer?.files || [])];
      if (files.length) this.addFiles(files);
      else {
        const text = e.dataTransfer?.getData("text/uri-list") || e.dataTransfer?.getData("text/plain");
        if (text) this.addUrl(text.split("\n")[0]);
      }
    });
    this.zone = zone;
    this.renderTiles();
    return zone;
  }

  renderTiles() {
    clear(this.list);
    this.items.forEach((item, index) => this.list.append(this.tile(item, index)));
    if (!this.isFull()) this.list.append(this.addTile());
  }

  tile(item, index) {
    const n = index + 1;
    const label = `Picture ${n}`;
    const img = h("img", { alt: `${label}${item.name ? `: ${item.name}` : ""}`, draggable: false, loading: "lazy", referrerpolicy: "no-referrer" });
    img.addEventListener("error", () => this.thumbFallback(item, img), { once: true });
    if (item.thumbBroken) img.classList.add("broken");
    img.src = item.thumb;
    const error = item.error || item.serverError;
    const li = h(
      "li.tile",
      {
        dataset: { id: item.id, status: item.status },
        class: error ? "has-error" : "",
        draggable: true,
        title: item.name || label,
      },
      h("div.tile-img", {}, img),
      h("span.tile-badge", {}, label),
      item.status === "uploading" ? h("span.tile-status", {}, h("span.spinner"), "Uploading") : null,
      error ? h("span.tile-error", { role: "alert" }, error) : null,
      h(
        "div.tile-actions",
        {},
        h("button.tile-btn", { type: "button", "aria-label": `Move ${label} left`, title: "Move left", dataset: { move: "left" }, disabled: index === 0, onclick: () => this.move(item.id, -1) }, icon("left")),
        h("button.tile-btn", { type: "button", "aria-label": `Move ${label} right`, title: "Move right", dataset: { move: "right" }, disabled: index === this.items.length - 1, onclick: () => this.move(item.id, +1) }, icon("right")),
        h("button.tile-btn.tile-remove", { type: "button", "aria-label": `Remove ${label}`, title: "Remove", dataset: { remove: "" }, onclick: () => this.remove(item.id) }, icon("x")),
      ),
    );
    li.addEventListener("dragstart", (e) => {
      this.dragId = item.id;
      li.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", label);
    });
    li.addEventListener("dragend", () => {
      this.dragId = null;
      li.classList.remove("dragging");
    });
    li.addEventListener("dragover", (e) => {
      if (this.dragId === null) return;
      e.preventDefault();
      li.classList.add("drop-target");
    });
    li.addEventListener("dragleave", () => li.classList.remove("drop-target"));
    li.addEventListener("drop", (e) => {
      if (this.dragId === null) return;
      e.preventDefault();
      e.stopPropagation();
      const moving = this.dragId;
      this.dragId = null;
      this.moveBefore(moving, item.id);
    });
    return li;
  }

  addTile() {
    const n = this.items.length + 1;
    return h(
      "li.tile.tile-add",
      {},
      h(
        "button.tile-add-btn",
        {
          type: "button",
          "aria-label": `Add Picture ${n}: upload an image`,
          onclick: () => this.browse(),
        },
        icon("upload"),
        h("span.tile-add-title", {}, `Add Picture ${n}`),
        h("span.tile-add-hint", {}, "Drop, paste or browse"),
      ),
    );
  }

  browse() {
    const input = this.fileInput;
    input.value = "";
    input.onchange = () => {
      this.addFiles([...input.files]);
      input.value = "";
    };
    input.click();
  }

  /** A thumbnail that does not load (expired signed URL, or an upload URL that needs the
   * key): fetch it with the key and show it from a blob. */
  async thumbFallback(item, img) {
    if (!item.url || item.thumbTried) {
      if (item.thumbBroken || !item.url) img.classList.add("broken");
      return;
    }
    item.thumbTried = true;
    try {
      const blob = await this.api.fetchBlob(item.url);
      item.thumb = URL.createObjectURL(blob);
      item.localThumb = true;
      img.src = item.thumb;
    } catch {
      item.thumbBroken = true;
      img.classList.add("broken");
    }
  }
}

function hasFiles(e) {
  return [...(e.dataTransfer?.types || [])].some((t) => t === "Files" || t === "text/uri-list");
}
