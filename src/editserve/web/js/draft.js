// What goes into the form from outside it: the draft kept per model in localStorage, a
// run's parameters (restore), an output as an input picture, and pasted pictures or links.

import { $, shortId, toast } from "./dom.js";
import { paramsOf } from "./gen.js";
import { looksLikeImageRef } from "./images.js";

export class Draft {
  constructor(app) {
    this.app = app;
  }

  /** The form changed (debounced): keep the draft, refresh the API tab, drop the error. */
  changed() {
    this.save();
    if (this.app.tabs.view === "api") this.app.apiView.refresh();
    $("#form-error").hidden = true;
  }

  save() {
    const { form, modelId } = this.app;
    if (!modelId || !form.schema) return;
    const values = form.values();
    const images = (form.imageField?.items || [])
      .filter((i) => i.status === "ready")
      .map((i) => ({ url: i.url, thumb: i.localThumb ? i.preview || null : i.thumb }));
    localStorage.setItem(`editserve.draft.${modelId}`, JSON.stringify({ ...values, _images: images }));
  }

  load() {
    try {
      return JSON.parse(localStorage.getItem(`editserve.draft.${this.app.modelId}`) || "null");
    } catch {
      return null;
    }
  }

  /** Fill the form: params (schema names) and optional [{url, thumb}] for the images. */
  apply(params, images) {
    const values = { ...params };
    delete values._images;
    const imageName = this.app.form.imageField?.name;
    if (imageName) {
      values[imageName] = images || (values[imageName] || []).map((url) => ({ url }));
    }
    this.app.form.setValues(values);
  }

  restore(gen) {
    const { form } = this.app;
    const params = paramsOf(gen, this.app.schema);
    const refs = params.input_image || [];
    const thumbs = gen.input_urls || [];
    const images = refs.map((url, i) => ({
      // data: URIs are not echoed; the stored copy's signed URL works as an input too.
      url: url.startsWith("data:") ? thumbs[i] : url,
      thumb: thumbs[i] || url,
    }));
    this.apply(params, images);
    if (gen.seed !== undefined && gen.seed !== null) form.lockSeed(gen.seed);
    this.app.tabs.show("playground");
    toast("Parameters restored (seed locked to the one used)", "ok");
    form.fields.get("prompt")?.focus();
  }

  useAsInput(gen, mode) {
    const images = this.app.form.imageField;
    if (!images || !gen.result_url) return;
    if (mode === "add" && images.isFull()) {
      toast(`All ${images.max} pictures are used — remove one first`, "error");
      return;
    }
    // The result URL is the input as it is: the server reads its own links from storage
    // (owner-checked), so nothing is downloaded or uploaded again, and the API tab shows a
    // call that works from the shell too.
    const ext = new URL(gen.result_url, location.href).pathname.split(".").pop() || "png";
    const item = { url: gen.result_url, thumb: gen.result_url, name: `output-${shortId(gen.generation_id)}.${ext}` };
    if (mode === "replace") images.setRemote([item]);
    else images.addRemote(item);
    this.app.tabs.show("playground");
    toast(mode === "replace" ? "The output is now Picture 1" : `Added as Picture ${images.items.length}`, "ok");
  }

  initPaste() {
    document.addEventListener("paste", (e) => {
      const images = this.app.form.imageField;
      if (!images || $("#key-dialog").open) return;
      const files = [...(e.clipboardData?.files || [])].filter((f) => f.type.startsWith("image/"));
      if (files.length) {
        e.preventDefault();
        this.app.tabs.show("playground");
        images.addFiles(files);
        return;
      }
      const target = e.target;
      const typing = target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
      const text = e.clipboardData?.getData("text/plain") || "";
      if (!typing && looksLikeImageRef(text)) {
        e.preventDefault();
        this.app.tabs.show("playground");
        images.addUrl(text);
      }
    });
  }
}
