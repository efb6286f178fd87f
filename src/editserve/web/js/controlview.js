// What the control panel (control.js) shows: the type picker and the note of which
// Picture the map becomes, the source picture (chosen from the pictures, uploaded,
// dropped or a URL), "already a map", the type's options, and the map's preview with
// "Preview map" and "Use as picture". Functions of the panel: they build its elements
// onto it and repaint them from its state.

import { h, clear } from "./dom.js";
import { limits } from "./schema.js";
import { TYPE_LABELS, controlTypes, optionLabel, typeOptions } from "./controlref.js";

/** The panel's elements, kept on the panel. */
export function renderPanel(panel) {
  const types = controlTypes(panel.prop);
  panel.typeSelect = h(
    "select.input.control-type",
    { id: `${panel.id}-type`, "aria-label": "Control map type" },
    h("option", { value: "" }, "None"),
    types.map((t) => h("option", { value: t }, TYPE_LABELS[t] || t)),
  );
  panel.typeSelect.addEventListener("change", () => {
    panel.type = panel.typeSelect.value;
    panel.values = {};
    panel.renderOptions();
    panel.edited();
  });
  panel.note = h("p.control-note", { dataset: { testid: "control-note" }, "aria-live": "polite" });
  panel.optionsEl = h("div.control-options");
  panel.body = h("div.control-body", {}, renderSource(panel), renderReady(panel), panel.optionsEl, renderMap(panel));
  return h("div.control-panel", {}, h("div.control-head", {}, panel.typeSelect, panel.note), panel.body);
}

function renderSource(panel) {
  panel.sourceImg = h("img.control-source-img", { alt: "", draggable: false, referrerpolicy: "no-referrer", dataset: { testid: "control-source-img" } });
  panel.sourceImg.addEventListener("error", () => panel.thumbFallback());
  panel.sourceEmpty = h("span.control-source-empty", {}, "Drop a picture here");
  panel.picks = h("div.control-picks", { role: "group", "aria-label": "Make the map from" });
  panel.urlInput = h("input.input.input-sm", { type: "url", inputmode: "url", placeholder: "or a picture URL", "aria-label": "Control picture URL" });
  const useUrl = () => {
    const url = panel.urlInput.value.trim();
    if (!/^(https?:\/\/|data:image\/)/i.test(url)) return panel.showStatus("Enter an http(s) image URL or a data:image/… URI", "error");
    panel.urlInput.value = "";
    panel.useUrl(url);
  };
  panel.urlInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      useUrl();
    }
  });
  const zone = h(
    "div.control-source",
    { dataset: { testid: "control-source" } },
    h("div.control-source-thumb", {}, panel.sourceImg, panel.sourceEmpty),
    h(
      "div.control-source-pick",
      {},
      h("span.control-caption", {}, "Made from"),
      panel.picks,
      h("div.url-row", {}, panel.urlInput, h("button.btn.btn-ghost.btn-sm", { type: "button", onclick: useUrl }, "Use URL")),
    ),
  );
  dropZone(panel, zone);
  return zone;
}

/** A file or a link dropped on the source: the map is made from it. */
function dropZone(panel, zone) {
  zone.addEventListener("dragover", (e) => {
    if (![...(e.dataTransfer?.types || [])].some((t) => t === "Files" || t === "text/uri-list")) return;
    e.preventDefault();
    zone.classList.add("dropping");
  });
  zone.addEventListener("dragleave", (e) => {
    if (!zone.contains(e.relatedTarget)) zone.classList.remove("dropping");
  });
  zone.addEventListener("drop", (e) => {
    zone.classList.remove("dropping");
    const file = [...(e.dataTransfer?.files || [])][0];
    const text = e.dataTransfer?.getData("text/uri-list") || "";
    if (!file && !text) return;
    e.preventDefault();
    e.stopPropagation();
    if (file) panel.useFile(file);
    else panel.useUrl(text.split("\n")[0].trim());
  });
}

function renderReady(panel) {
  panel.readySwitch = h("input", { type: "checkbox", id: `${panel.id}-ready`, role: "switch" });
  panel.readySwitch.addEventListener("change", () => {
    panel.preprocess = !panel.readySwitch.checked;
    panel.edited();
  });
  return h(
    "label.switch.control-ready",
    { for: panel.readySwitch.id },
    panel.readySwitch,
    h("span.switch-track", { "aria-hidden": "true" }),
    h("span.switch-label", {}, "This picture is already a map"),
  );
}

function renderMap(panel) {
  panel.previewButton = h("button.btn.btn-ghost.btn-sm", { type: "button", dataset: { testid: "control-preview" }, onclick: () => panel.previewMap() }, "Preview map");
  panel.useButton = h(
    "button.btn.btn-ghost.btn-sm",
    { type: "button", dataset: { testid: "control-use" }, title: "Add the map as an ordinary input picture instead of a control", onclick: () => panel.useAsPicture() },
    "Use as picture",
  );
  panel.mapImg = h("img.control-map-img", { alt: "", dataset: { testid: "control-map" }, draggable: false });
  panel.mapCaption = h("span.control-caption");
  panel.mapBox = h("figure.control-map", {}, panel.mapImg, h("figcaption", {}, panel.mapCaption));
  panel.status = h("p.control-status", { dataset: { testid: "control-status" }, "aria-live": "polite", hidden: true });
  return h("div.control-map-area", {}, h("div.control-actions", {}, panel.previewButton, panel.useButton), panel.status, panel.mapBox);
}

/** The type's options: a number each, its range from the schema, empty = its default. */
export function renderOptions(panel) {
  clear(panel.optionsEl);
  for (const { name, prop, default: fallback } of typeOptions(panel.prop, panel.type)) {
    const { min, max } = limits(prop);
    const input = h("input.input.input-sm.input-num", {
      id: `${panel.id}-${name}`,
      type: "number",
      min,
      max,
      step: prop.type === "integer" ? 1 : 0.05,
      inputmode: prop.type === "integer" ? "numeric" : "decimal",
      placeholder: fallback !== undefined ? String(fallback) : "",
      value: panel.values[name] !== undefined ? String(panel.values[name]) : "",
    });
    input.addEventListener("input", () => {
      if (input.value === "") delete panel.values[name];
      else panel.values[name] = Number(input.value);
      panel.edited();
    });
    const range = min !== undefined && max !== undefined ? `${min}–${max}` : "";
    panel.optionsEl.append(
      h("label.control-option", { for: input.id, title: prop.description || "" }, h("span", {}, optionLabel(name)), input, h("span.control-range", {}, range)),
    );
  }
  panel.optionsEl.hidden = !panel.optionsEl.children.length;
}

/** Repaint from the panel's state: the note, the source, the picks, the preview. */
export function showPanel(panel) {
  const on = !!panel.type;
  panel.body.hidden = !on;
  panel.el.dataset.state = !on ? "none" : panel.get() ? "set" : "incomplete";
  showNote(panel);
  showSource(panel);
  panel.optionsEl.hidden = !on || !panel.preprocess || !panel.optionsEl.children.length;
  const map = panel.preprocess && panel.preview && panel.previewKey === panel.key() ? panel.preview : null;
  panel.mapBox.hidden = !map;
  if (map) {
    if (panel.mapImg.getAttribute("src") !== map.url) panel.mapImg.src = map.url;
    panel.mapImg.alt = `The ${map.type} map`;
    panel.mapCaption.textContent = `${TYPE_LABELS[map.type] || map.type} map · ${map.width}×${map.height}${map.cached ? " · computed before" : ""}`;
  }
  panel.previewButton.hidden = !panel.preprocess;
  panel.previewButton.disabled = !panel.get() || !!panel.busy;
  panel.previewButton.textContent = panel.busy ? "Computing…" : "Preview map";
  panel.useButton.disabled = !panel.mapUrl() || !!panel.form.imageField?.isFull();
}

function showNote(panel) {
  const { n } = panel.slot();
  const over = panel.type ? panel.budget() : "";
  panel.note.dataset.kind = over ? "warn" : "";
  panel.note.dataset.picture = String(n);
  if (!panel.type) panel.note.textContent = "No control map";
  else if (over) panel.note.textContent = over;
  else panel.note.textContent = `The map becomes Picture ${n}: refer to it in the prompt`;
}

function showSource(panel) {
  const source = panel.source;
  panel.sourceEmpty.hidden = !!source;
  panel.sourceImg.hidden = !source;
  if (source && panel.sourceImg.getAttribute("src") !== source.thumb) panel.sourceImg.src = source.thumb;
  if (!source) panel.sourceImg.removeAttribute("src");
  panel.sourceImg.alt = source ? `Control picture${source.name ? `: ${source.name}` : ""}` : "";
  panel.sourceImg.parentElement.dataset.status = source?.status || "";
  clear(panel.picks);
  panel.pictures().forEach((item, i) => {
    if (item.status !== "ready") return;
    const chosen = !!source && source.url === item.url;
    panel.picks.append(
      h(
        "button.btn.btn-ghost.btn-sm.control-pick",
        { type: "button", "aria-pressed": String(chosen), title: `Make the map from Picture ${i + 1}`, onclick: () => panel.useUrl(item.url, `Picture ${i + 1}`, item.thumb) },
        `Picture ${i + 1}`,
      ),
    );
  });
  panel.picks.append(h("button.btn.btn-ghost.btn-sm.control-pick", { type: "button", onclick: () => panel.browse() }, "Upload…"));
  if (source?.status === "uploading") panel.showStatus("Uploading the picture…");
  else if (source?.status === "error") panel.showStatus(`The picture could not be uploaded: ${source.error}`, "error");
  else if (panel.status.dataset.kind !== "error" && !panel.busy) panel.showStatus("");
}
