// A layered result (qwen-image-layered: `layer_urls`, first = bottom): the stack
// composited in order over a checkerboard, a list of the layers with a show/hide toggle
// each, and "Download all" as one stored (uncompressed) zip built here, offline.

import { h, icon, toast } from "./dom.js";

export const layersOf = (gen) => (Array.isArray(gen.layer_urls) && gen.layer_urls.length ? gen.layer_urls : null);

/** The stage canvas of a layered result; `hidden` (a Set of indexes) lasts across renders. */
export function layersCanvas(gen, hidden) {
  const urls = layersOf(gen);
  const imgs = urls.map((url, i) => {
    const img = h("img.layer-img", { src: url, alt: `Layer ${i + 1}`, dataset: { layer: String(i + 1), ...(i === 0 ? { testid: "result-image" } : {}) } });
    img.hidden = hidden.has(i);
    return img;
  });
  const stack = h("div.layer-stack", { dataset: { testid: "layer-stack" } }, imgs);
  if (gen.width && gen.height) stack.style.setProperty("--r", String(gen.width / gen.height));
  const items = urls.map((url, i) => {
    const box = h("input.layer-toggle", { type: "checkbox", "aria-label": `Show layer ${i + 1}` });
    box.checked = !hidden.has(i);
    box.addEventListener("change", () => {
      if (box.checked) hidden.delete(i);
      else hidden.add(i);
      imgs[i].hidden = !box.checked;
    });
    return h("li.layer-item", { dataset: { testid: "layer-item" } }, h("label.layer-row", {}, box, h("img.layer-thumb", { src: url, alt: "" }), h("span.layer-name", {}, `Layer ${i + 1}`)));
  });
  // Listed top first, as layer panels do; the stack paints the first layer at the bottom.
  const list = h("ol.layer-list", { "aria-label": "Layers", reversed: true }, items.reverse());
  return h("div.stage-canvas.stage-layers", {}, h("div.layer-stack-host", {}, stack), list);
}

/** The "Download all" button: every layer in one stored zip. */
export function downloadAllButton(gen, baseName) {
  const urls = layersOf(gen);
  const button = h("button.btn.btn-primary.btn-sm", { type: "button", "aria-label": "Download all layers", title: `Download the ${urls.length} layers as a zip`, dataset: { testid: "download-layers", count: String(urls.length) } }, icon("download"), h("span", {}, "Download all"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const files = await Promise.all(
        urls.map(async (url, i) => {
          const response = await fetch(url);
          if (!response.ok) throw new Error(`layer ${i + 1}: HTTP ${response.status}`);
          return { name: `${baseName}-layer-${i + 1}.png`, data: new Uint8Array(await response.arrayBuffer()) };
        }),
      );
      const link = h("a", { href: URL.createObjectURL(storedZip(files)), download: `${baseName}-layers.zip` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
    } catch (err) {
      toast(`Download failed: ${err.message}`, "error");
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

let crcTable = null;
function crc32(data) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A zip of `files` ({name, data: Uint8Array}) with no compression (method 0). */
export function storedZip(files) {
  const enc = new TextEncoder();
  const parts = [];
  const central = [];
  let offset = 0;
  const header = (size, fields) => {
    const view = new DataView(new ArrayBuffer(size));
    fields.forEach(([at, value, bytes]) => (bytes === 2 ? view.setUint16(at, value, true) : view.setUint32(at, value, true)));
    return new Uint8Array(view.buffer);
  };
  for (const file of files) {
    const name = enc.encode(file.name);
    const crc = crc32(file.data);
    const len = file.data.length;
    // version 20, no flags, stored, DOS time/date 0:00 1 Jan 1980
    const common = [[4, 20, 2], [6, 0, 2], [8, 0, 2], [10, 0, 2], [12, 0x21, 2], [14, crc, 4], [18, len, 4], [22, len, 4], [26, name.length, 2], [28, 0, 2]];
    parts.push(header(30, [[0, 0x04034b50, 4], ...common]), name, file.data);
    const shifted = common.map(([at, value, bytes]) => [at + 2, value, bytes]);
    central.push(header(46, [[0, 0x02014b50, 4], [4, 20, 2], ...shifted, [32, 0, 2], [34, 0, 2], [36, 0, 2], [38, 0, 4], [42, offset, 4]]), name);
    offset += 30 + name.length + len;
  }
  const size = central.reduce((sum, part) => sum + part.length, 0);
  const end = header(22, [[0, 0x06054b50, 4], [8, files.length, 2], [10, files.length, 2], [12, size, 4], [16, offset, 4]]);
  return new Blob([...parts, ...central, end], { type: "application/zip" });
}
