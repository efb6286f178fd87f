// What goes into the form from outside it: the draft kept per model in localStorage, what
// carries over to another model, a run's parameters (restore, with its model), an output
// as an input picture (from a text-to-image run: with an edit model), and pasted pictures
// or links.

import { $, shortId, toast } from "./dom.js";
import { paramsOf } from "./gen.js";
import { looksLikeImageRef } from "./images.js";
import { maskUrlOf } from "./maskpaint.js";
import { controlSourceUrlOf } from "./controlref.js";
import { carriedValues, editModelFor, imageProperty, servedModel } from "./models.js";

export class Draft {
  constructor(app) {
    this.app = app;
    this.aside = []; // the last edit form's pictures, while another model is picked
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

  applySaved() {
    const draft = this.load();
    if (draft) this.apply(draft, draft._images);
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

  /** The form as it is before another model replaces it. */
  snapshot() {
    const { form } = this.app;
    const pictures = (form.imageField?.items || [])
      .filter((i) => i.status === "ready")
      .map((i) => ({ url: i.url, thumb: i.thumb, name: i.name }));
    return { values: form.values(), schema: form.schema, pictures };
  }

  /** After a model switch: keep the prompt and what the user changed; pictures go to the
   * next edit form, and wait aside while a text-to-image model (no pictures) is picked. */
  carry({ values, schema, pictures }) {
    const { form } = this.app;
    if (imageProperty(schema)) this.aside = pictures;
    const kept = carriedValues(values, schema, form.schema);
    if (form.imageField) kept[form.imageField.name] = this.aside;
    form.setValues(kept);
    if (!form.imageField && pictures.length) {
      toast("Text to image takes no pictures: yours come back with an edit model", "info");
    }
  }

  /** A run's parameters back in the form, with the run's model picked. */
  async restore(gen) {
    const { app } = this;
    const model = servedModel(app.models, gen.model_name);
    if (model && model.id !== app.modelId) await app.modelCard.select(model.id);
    const params = paramsOf(gen, app.schema);
    const refs = params.input_image || [];
    const thumbs = gen.input_urls || [];
    const images = refs.map((url, i) => ({
      // data: URIs are not echoed; the stored copy's signed URL works as an input too.
      url: url.startsWith("data:") ? thumbs[i] : url,
      thumb: thumbs[i] || url,
    }));
    // a mask sent as a data: URI is not echoed either: its stored copy comes back
    if (typeof params.mask === "string" && params.mask.startsWith("data:")) params.mask = maskUrlOf(gen) || undefined;
    if (params.control?.image === "data:") params.control = { ...params.control, image: controlSourceUrlOf(gen) || "" }; // likewise a control's
    this.apply(params, images);
    if (gen.seed !== undefined && gen.seed !== null) app.form.lockSeed(gen.seed);
    app.tabs.show("playground");
    const note = model ? "" : ` (its model ${gen.model_name} is not served here)`;
    toast(`Parameters restored${note}, seed locked to the one used`, model ? "ok" : "info");
    app.form.fields.get("prompt")?.focus();
  }

  /** An output as an input picture. From a text-to-image form, an edit model is picked
   * first (the output becomes its Picture 1): what a generated picture is used for. */
  async useAsInput(gen, mode) {
    if (!gen.result_url) return;
    let switched = null;
    if (!this.app.form.imageField) {
      switched = editModelFor(this.app.models);
      if (!switched) return;
      await this.app.modelCard.select(switched.id);
      mode = "replace";
    }
    const images = this.app.form.imageField;
    if (!images) return;
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
    if (switched) this.describeTheEdit(switched);
    else toast(mode === "replace" ? "The output is now Picture 1" : `Added as Picture ${images.items.length}`, "ok");
  }

  describeTheEdit(model) {
    toast(`Editing with ${model.display_name || model.id}: the picture is Picture 1`, "ok");
    const prompt = this.app.form.fields.get("prompt")?.input;
    prompt?.focus();
    prompt?.select(); // the generation's prompt: typing the edit replaces it
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
