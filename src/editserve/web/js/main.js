// The workbench: key and model, the schema form, runs on the queue with live progress,
// the output stage, recent runs, history/compare and the API tab.

import { Api, ApiError } from "./api.js";
import { EventStream } from "./events.js";
import { SchemaForm } from "./form.js";
import { HistoryView, thumb } from "./history.js";
import { ApiView } from "./apiview.js";
import { beforeAfter } from "./slider.js";
import { h, icon, clear, $, $$, fmtClock, fmtDuration, fmtCount, shortId, debounce, toast, copyText } from "./dom.js";
import { ACTIVE, TERMINAL, paramsOf, titleStage, sizeLabel, runSeconds, resultFilename, statusLabel } from "./gen.js";
import { looksLikeImageRef } from "./images.js";
import { renderStartup } from "./startup.js";

const KEY_STORAGE = "editserve.key";

const capitalize = (text) => text.charAt(0).toUpperCase() + text.slice(1);
const VIEWS = ["playground", "history", "api"];

class App {
  constructor() {
    this.api = new Api(location.origin);
    this.stream = new EventStream(() => this.api.key);
    this.models = [];
    this.modelId = null;
    this.card = null;
    this.schema = null;
    this.runs = new Map(); // generation_id → latest known generation object
    this.batches = new Map(); // generation_id → ids of the run it belongs to
    this.firstSeen = new Map(); // generation_id → local ms when first seen processing
    this.current = null; // { ids: [...] } of the latest run from this page
    this.shownId = null;
    this.stageMode = "result"; // result | before-after
    this.beforeIndex = 0;
    this.pollTimer = null;
    this.tickTimer = null;
    this.cardTimer = null;

    this.form = new SchemaForm($("#form-fields"), {
      api: this.api,
      fileInput: $("#file-input"),
      onChange: debounce(() => this.formChanged(), 120),
    });
    this.history = new HistoryView($("#view-history"), this);
    this.apiView = new ApiView($("#view-api"), this);
  }

  // --- start ---------------------------------------------------------------------------
  start() {
    this.initTheme();
    this.initTabs();
    this.initKeyDialog();
    this.initForm();
    this.initStream();
    this.initPaste();
    this.initLayout();
    this.renderStage();
    const key = localStorage.getItem(KEY_STORAGE) || sessionStorage.getItem(KEY_STORAGE);
    if (key) this.connect(key, { remember: !!localStorage.getItem(KEY_STORAGE), fromStorage: true });
    else this.openKeyDialog();
  }

  // --- theme ---------------------------------------------------------------------------
  initTheme() {
    const button = $("#theme-button");
    const order = ["auto", "light", "dark"];
    const labels = { auto: "Theme: follow system", light: "Theme: light", dark: "Theme: dark" };
    const icons = { auto: "auto", light: "sun", dark: "moon" };
    const apply = (theme) => {
      document.documentElement.dataset.theme = theme;
      button.setAttribute("aria-label", `${labels[theme]} (click to change)`);
      button.title = labels[theme];
      clear(button).append(icon(icons[theme]));
    };
    let theme = localStorage.getItem("editserve.theme") || "auto";
    apply(theme);
    button.addEventListener("click", () => {
      theme = order[(order.indexOf(theme) + 1) % order.length];
      localStorage.setItem("editserve.theme", theme);
      apply(theme);
    });
  }

  // --- layout --------------------------------------------------------------------------
  /** Tell the CSS where the playground starts, so form and output fit the first screen. */
  initLayout() {
    const view = $("#view-playground");
    const measure = () => {
      if (view.hidden) return;
      const top = view.getBoundingClientRect().top + window.scrollY;
      view.style.setProperty("--work-top", `${Math.round(top)}px`);
    };
    const observer = new ResizeObserver(measure);
    for (const el of [$("#model-card"), $("#weights-banner"), renderStartup(null), $(".topbar")]) observer.observe(el);
    window.addEventListener("resize", measure);
    this.measureLayout = measure;
    measure();
  }

  // --- tabs ----------------------------------------------------------------------------
  initTabs() {
    const tabs = $$(".tabs .tab");
    tabs.forEach((tab, i) => {
      tab.addEventListener("click", () => this.showView(tab.dataset.view));
      tab.addEventListener("keydown", (e) => {
        let next = null;
        if (e.key === "ArrowRight") next = (i + 1) % tabs.length;
        if (e.key === "ArrowLeft") next = (i - 1 + tabs.length) % tabs.length;
        if (e.key === "Home") next = 0;
        if (e.key === "End") next = tabs.length - 1;
        if (next === null) return;
        e.preventDefault();
        this.showView(tabs[next].dataset.view);
        tabs[next].focus();
      });
    });
    $$("[data-goto]").forEach((el) => el.addEventListener("click", () => this.showView(el.dataset.goto)));
    window.addEventListener("hashchange", () => this.showView(location.hash.slice(1), { fromHash: true }));
    const initial = location.hash.slice(1);
    this.showView(VIEWS.includes(initial) ? initial : "playground", { fromHash: true });
  }

  showView(name, { fromHash = false } = {}) {
    if (!VIEWS.includes(name)) return;
    this.view = name;
    for (const tab of $$(".tabs .tab")) {
      const on = tab.dataset.view === name;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
    }
    for (const view of VIEWS) $(`#view-${view}`).hidden = view !== name;
    if (!fromHash && location.hash.slice(1) !== name) history.replaceState(null, "", `#${name}`);
    if (name === "api") this.apiView.refresh();
    if (name === "playground") this.measureLayout?.();
    if (name === "history" && this.history.mode === "list") this.history.render();
  }

  // --- key -----------------------------------------------------------------------------
  initKeyDialog() {
    const dialog = $("#key-dialog");
    $("#key-button").addEventListener("click", () => this.openKeyDialog());
    $("#key-cancel").addEventListener("click", () => dialog.close());
    $("#key-forget").addEventListener("click", () => {
      localStorage.removeItem(KEY_STORAGE);
      sessionStorage.removeItem(KEY_STORAGE);
      this.api.setKey(null);
      this.stream.stop();
      $("#key-input").value = "";
      this.updateKeyButton();
      toast("Key forgotten on this browser");
    });
    $("#key-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const value = $("#key-input").value.trim();
      if (!value) {
        $("#key-error").textContent = "Paste a key first";
        return;
      }
      $("#key-save").disabled = true;
      const ok = await this.connect(value, { remember: $("#key-remember").checked });
      $("#key-save").disabled = false;
      if (ok) dialog.close();
    });
  }

  openKeyDialog(message = "") {
    const dialog = $("#key-dialog");
    $("#key-error").textContent = message;
    $("#key-input").value = "";
    $("#key-forget").hidden = !this.api.key;
    $("#key-cancel").hidden = !this.api.key;
    if (!dialog.open) dialog.showModal();
    $("#key-input").focus();
  }

  updateKeyButton() {
    const button = $("#key-button");
    clear(button);
    if (this.api.key) {
      button.append(icon("key"), h("span.key-mask", {}, `${this.api.key.slice(0, 3)}…${this.api.key.slice(-4)}`));
      button.setAttribute("aria-label", "API key set — change it");
      button.title = "Change API key";
    } else {
      button.append(icon("key"), h("span", {}, "Set API key"));
      button.setAttribute("aria-label", "Set API key");
    }
  }

  /** Try a key: on success remember it and load everything. */
  async connect(key, { remember = true, fromStorage = false } = {}) {
    const previous = this.api.key;
    this.api.setKey(key);
    try {
      const list = await this.api.models();
      this.models = list.data || [];
    } catch (err) {
      this.api.setKey(previous);
      const message = err instanceof ApiError && err.status === 401
        ? "That key was not accepted by this server."
        : `Could not reach the server: ${err.message}`;
      if (fromStorage) this.openKeyDialog(message);
      else $("#key-error").textContent = message;
      return false;
    }
    localStorage.removeItem(KEY_STORAGE);
    sessionStorage.removeItem(KEY_STORAGE);
    (remember ? localStorage : sessionStorage).setItem(KEY_STORAGE, key);
    if (previous && previous !== key) {
      // Another key sees other runs: forget this page's view of the old key's.
      this.runs.clear();
      this.batches.clear();
      this.current = null;
      this.shownId = null;
      this.renderStage();
      this.updateRunButtons();
    }
    this.updateKeyButton();
    this.populateModels();
    this.stream.start();
    this.history.setSelection([]);
    this.history.reload();
    return true;
  }

  unauthorized() {
    this.stream.stop();
    this.openKeyDialog("The server no longer accepts this key.");
  }

  // --- models --------------------------------------------------------------------------
  populateModels() {
    const select = $("#model-select");
    clear(select);
    for (const model of this.models) select.append(h("option", { value: model.id }, model.display_name || model.id));
    select.disabled = this.models.length < 2;
    const wanted = localStorage.getItem("editserve.model");
    const id = this.models.some((m) => m.id === wanted) ? wanted : this.models[0]?.id;
    if (!id) return;
    select.value = id;
    select.onchange = () => this.selectModel(select.value);
    this.selectModel(id);
  }

  async selectModel(id) {
    const carry = this.schema ? this.form.values() : null;
    this.modelId = id;
    localStorage.setItem("editserve.model", id);
    let card = this.models.find((m) => m.id === id);
    try {
      card = await this.api.model(id);
    } catch (err) {
      if (!card) {
        toast(`Could not load the model: ${err.message}`, "error");
        return;
      }
    }
    this.setCard(card);
    this.schema = card.json_request_schema || card.request_schema;
    this.form.setSchema(this.schema, { loras: card.loras || [] });
    const draft = carry || this.loadDraft();
    if (draft) this.applyParams(draft, draft._images);
    this.apiView.refresh();
  }

  setCard(card) {
    this.card = card;
    const el = $("#model-card");
    el.hidden = false;
    clear(el);
    const weights = card.weights;
    const readiness = card.readiness || "unknown";
    const readinessText = { ready: "Ready", loading: "Loading weights…", no_workers: "No worker running", failed: "Worker failed" }[readiness] || readiness;
    const about = h(
      "div.card-about",
      { id: "model-about", hidden: !this.aboutOpen },
      h("p", {}, card.description),
      card.source_model ? h("p.muted", {}, "Source: ", h("span.mono", {}, card.source_model)) : null,
    );
    const aboutButton = h(
      "button.chip.chip-btn.chip-about",
      {
        type: "button",
        "aria-expanded": String(!!this.aboutOpen),
        "aria-controls": "model-about",
        onclick: () => {
          this.aboutOpen = !this.aboutOpen;
          about.hidden = !this.aboutOpen;
          aboutButton.setAttribute("aria-expanded", String(this.aboutOpen));
        },
      },
      "About this model",
    );
    const caps = card.capabilities ? `${(card.capabilities.input || []).join(" + ")} → ${(card.capabilities.output || []).join(", ")}` : null;
    el.append(
      h(
        "div.card-main",
        {},
        h(
          "div.card-title-row",
          {},
          h("h1.card-title", {}, card.display_name || card.id),
          card.summary ? h("p.card-summary", {}, card.summary) : null,
          h("span.readiness", { dataset: { state: readiness }, title: card.readiness_reason || card.stage_text || "" }, h("span.conn-dot"), readinessText),
        ),
        h(
          "div.chips",
          {},
          h("button.chip.chip-btn.mono", { type: "button", title: "Copy model id", onclick: async () => { if (await copyText(card.id)) toast(`Copied ${card.id}`, "ok"); } }, card.id),
          card.parameter_count ? h("span.chip", {}, `${fmtCount(card.parameter_count)} parameters`) : null,
          caps ? h("span.chip", {}, caps) : null,
          card.developer?.name ? h("span.chip", {}, `by ${card.developer.name}`) : null,
          weights ? h("span.chip", { class: weights.is_tiny ? "chip-warn" : "chip-ok", dataset: { testid: "weights-chip" } }, `weights: ${weights.is_tiny ? "tiny random" : weights.source || "?"}${weights.revision ? ` @ ${String(weights.revision).slice(0, 10)}` : ""}${weights.device ? ` · ${weights.device}` : ""}${weights.dtype ? ` · ${weights.dtype}` : ""}`) : null,
          card.description ? aboutButton : null,
        ),
        card.description ? about : null,
      ),
    );
    const banner = $("#weights-banner");
    const tiny = weights?.is_tiny || !!card.warning;
    banner.hidden = !tiny;
    if (tiny) {
      banner.onclick = () => banner.classList.toggle("expanded");
      banner.title = "Click to show all";
      clear(banner).append(
        icon("warn"),
        h(
          "div.banner-text",
          {},
          h("strong", {}, "Development weights loaded. "),
          card.warning ? capitalize(card.warning.replace(/^DEVELOPMENT WEIGHTS:\s*/i, "")) : "This server runs a tiny random-weight model: outputs are noise.",
        ),
      );
    }
    renderStartup(card);
    this.updateConn();
    clearTimeout(this.cardTimer);
    // while a worker starts, follow its stage closely (downloads report every second)
    if (readiness !== "ready") this.cardTimer = setTimeout(() => this.refreshCard(), readiness === "loading" ? 2000 : 5000);
  }

  async refreshCard() {
    if (!this.modelId || !this.api.key) return;
    try {
      this.setCard(await this.api.model(this.modelId));
    } catch {
      this.cardTimer = setTimeout(() => this.refreshCard(), 10000);
    }
  }

  // --- connection indicator ------------------------------------------------------------
  initStream() {
    this.stream.on("state", (state) => {
      if (state === "unauthorized") this.unauthorized();
      if (state === "live") this.resync();
      this.updateConn();
    });
    this.stream.on("media_generation_started", (d) => this.onEvent(d, { status: "processing" }));
    this.stream.on("media_generation_progress", (d) => this.onEvent(d, { status: "processing" }));
    this.stream.on("media_generation_completed", (d) => this.onEvent(d, {}));
    this.stream.on("media_generation_cancelled", (d) => this.onEvent(d, { status: "cancelled" }));
    window.addEventListener("online", () => this.api.key && this.stream.state !== "live" && this.stream.start());
  }

  updateConn() {
    const el = $("#conn");
    const stream = this.stream.state;
    const readiness = this.card?.readiness;
    let state = "idle";
    let text = "Offline";
    if (!this.api.key) text = "No key";
    else if (stream === "live" && (readiness === "ready" || !readiness)) [state, text] = ["live", "Live"];
    else if (stream === "live" && readiness === "loading") [state, text] = ["warn", "Model loading"];
    else if (stream === "live") [state, text] = ["warn", readiness === "failed" ? "Worker failed" : "No worker"];
    else if (stream === "connecting" || stream === "retrying") [state, text] = ["warn", "Reconnecting"];
    el.dataset.state = state;
    el.dataset.stream = stream;
    el.querySelector(".conn-text").textContent = text;
    el.title = `Event stream: ${stream}${readiness ? ` · model: ${readiness}` : ""}`;
  }

  /** After (re)connecting the stream, fetch what may have changed while it was down. */
  resync() {
    for (const [id, gen] of this.runs) if (ACTIVE.has(gen.status)) this.fetchGeneration(id);
  }

  // --- form ----------------------------------------------------------------------------
  initForm() {
    const form = $("#run-form");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.run();
    });
    document.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key === "Enter" && this.view === "playground") {
        e.preventDefault();
        this.run();
      }
    });
    $("#cancel-button").addEventListener("click", () => this.cancelCurrent());
    const count = $("#num-generations");
    count.value = localStorage.getItem("editserve.n") || "1";
    count.addEventListener("change", () => {
      localStorage.setItem("editserve.n", count.value);
      this.formChanged();
    });
    const isMac = /Mac|iP(hone|ad)/.test(navigator.platform || navigator.userAgent);
    $(".kbd-hint").textContent = isMac ? "⌘ ↵" : "Ctrl ↵";
  }

  numGenerations() {
    return Number($("#num-generations").value) || 1;
  }

  formChanged() {
    this.saveDraft();
    if (this.view === "api") this.apiView.refresh();
    $("#form-error").hidden = true;
  }

  saveDraft() {
    if (!this.modelId || !this.form.schema) return;
    const values = this.form.values();
    const images = (this.form.imageField?.items || [])
      .filter((i) => i.status === "ready")
      .map((i) => ({ url: i.url, thumb: i.localThumb ? i.preview || null : i.thumb }));
    localStorage.setItem(`editserve.draft.${this.modelId}`, JSON.stringify({ ...values, _images: images }));
  }

  loadDraft() {
    try {
      return JSON.parse(localStorage.getItem(`editserve.draft.${this.modelId}`) || "null");
    } catch {
      return null;
    }
  }

  /** Fill the form: params (schema names) and optional [{url, thumb}] for the images. */
  applyParams(params, images) {
    const values = { ...params };
    delete values._images;
    const imageName = this.form.imageField?.name;
    if (imageName) {
      values[imageName] = images || (values[imageName] || []).map((url) => ({ url }));
    }
    this.form.setValues(values);
  }

  // --- paste ---------------------------------------------------------------------------
  initPaste() {
    document.addEventListener("paste", (e) => {
      const images = this.form.imageField;
      if (!images || $("#key-dialog").open) return;
      const files = [...(e.clipboardData?.files || [])].filter((f) => f.type.startsWith("image/"));
      if (files.length) {
        e.preventDefault();
        this.showView("playground");
        images.addFiles(files);
        return;
      }
      const target = e.target;
      const typing = target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
      const text = e.clipboardData?.getData("text/plain") || "";
      if (!typing && looksLikeImageRef(text)) {
        e.preventDefault();
        this.showView("playground");
        images.addUrl(text);
      }
    });
  }

  // --- run -----------------------------------------------------------------------------
  async run() {
    if (!this.api.key) {
      this.openKeyDialog();
      return;
    }
    if (!this.schema) return;
    const problems = this.form.validate();
    this.showFormError("");
    if (problems.length) {
      const unplaced = this.form.showErrors(problems);
      if (unplaced.length) this.showFormError(unplaced.map((p) => p.message).join(" · "));
      return;
    }
    const body = { model: this.modelId, ...this.form.values() };
    const n = this.numGenerations();
    if (n > 1) body.num_generations = n;
    const button = $("#run-button");
    button.disabled = true;
    button.classList.add("busy");
    try {
      const response = await this.api.enqueue(body);
      const ids = (response.generations || []).map((g) => g.generation_id);
      const now = Date.now() / 1000;
      this.current = { ids };
      for (const item of response.generations || []) {
        const gen = { ...body, generation_id: item.generation_id, status: item.status || "queued", model_name: this.modelId, enqueued_at: now, progress: null, input_urls: this.form.imageField?.items.map((i) => i.thumb) || [] };
        delete gen.model;
        this.batches.set(item.generation_id, ids);
        this.track(gen);
      }
      this.shownId = ids[0];
      this.stageMode = "result";
      this.renderStage();
      this.schedulePoll(300);
    } catch (err) {
      this.handleRunError(err);
    } finally {
      button.disabled = false;
      button.classList.remove("busy");
    }
  }

  handleRunError(err) {
    if (!(err instanceof ApiError)) {
      this.showFormError(err.message);
      return;
    }
    if (err.status === 401) {
      this.unauthorized();
      return;
    }
    if (err.type === "invalid_params") {
      const unplaced = this.form.showErrors(err.fieldErrors().map((e) => ({ field: e.field, index: e.index, message: e.message })));
      if (unplaced.length) this.showFormError(unplaced.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join(" · "));
      return;
    }
    const prefix = { rate_limited: "Too many queued runs", payload_too_large: "Too large", unavailable: "Server unavailable" }[err.type] || err.title || "Error";
    this.showFormError(`${prefix}: ${err.detail || err.message}`);
  }

  showFormError(message) {
    const box = $("#form-error");
    box.textContent = message;
    box.hidden = !message;
  }

  async cancelCurrent() {
    const ids = (this.current?.ids || []).filter((id) => ACTIVE.has(this.runs.get(id)?.status));
    const button = $("#cancel-button");
    button.disabled = true;
    await Promise.all(
      ids.map((id) =>
        this.api.cancel(id).catch((err) => toast(`Cancel failed: ${err.message}`, "error")),
      ),
    );
    button.disabled = false;
    ids.forEach((id) => this.fetchGeneration(id));
  }

  // --- tracking generations --------------------------------------------------------------
  /** Merge what we learned about a generation and update every view that shows it. */
  track(update) {
    const id = update.generation_id;
    const previous = this.runs.get(id);
    const wasTerminal = !!previous && TERMINAL.has(previous.status);
    // A late event or a poll answered late must not move a finished generation back.
    if (wasTerminal && update.status && !TERMINAL.has(update.status)) return;
    const gen = { ...(previous || {}), ...update };
    // Events and polls race: a poll answered late must not move the progress back.
    const before = previous?.progress;
    if (before && gen.progress && gen.progress.total === before.total && gen.progress.step < before.step && gen.status === "processing") {
      gen.progress = before;
    }
    this.runs.set(id, gen);
    if (gen.status === "processing" && !this.firstSeen.has(id)) this.firstSeen.set(id, Date.now());
    this.history.upsert(gen);
    const becameTerminal = TERMINAL.has(gen.status) && !wasTerminal;
    if (becameTerminal) this.finished(gen);
    if (this.shownId === id) {
      if (becameTerminal || !this.stage?.progress) this.renderStage();
      else this.updateProgress(gen);
    } else if (this.isBatchShown(id)) {
      this.renderBatchStrip();
    }
    this.updateRunButtons();
  }

  finished(gen) {
    if (gen.status === "succeeded" && !gen.result_url) {
      // The event carries only the URL: fetch the full record (seed, size, timings).
      this.fetchGeneration(gen.generation_id);
    }
    if (gen.status === "succeeded" && gen.seed !== undefined && this.current?.ids.includes(gen.generation_id)) this.form.noteSeed(gen.seed);
    if (this.current?.ids.includes(gen.generation_id)) {
      const allDone = this.current.ids.every((id) => TERMINAL.has(this.runs.get(id)?.status));
      if (allDone && gen.status === "succeeded") toast(`Done${runSeconds(gen) ? ` in ${fmtDuration(runSeconds(gen))}` : ""}`, "ok");
      if (gen.status === "failed") toast("The run failed", "error");
    }
  }

  onEvent(data, defaults) {
    if (!data || !data.generation_id) return;
    const id = data.generation_id;
    const known = this.runs.get(id);
    const update = { generation_id: id, ...defaults };
    if (data.status) update.status = data.status;
    if (typeof data.step === "number" && typeof data.total === "number") update.progress = { step: data.step, total: data.total };
    if (data.stage) update.stage = data.stage;
    if (data.url) update.result_url = data.url;
    if (data.error) update.error_message = data.error;
    if (update.status === "processing" && known && TERMINAL.has(known.status)) return;
    if (!known) {
      // A run started elsewhere (CLI, another tab): pick up its full record.
      this.fetchGeneration(id);
      return;
    }
    this.track(update);
    if (TERMINAL.has(update.status)) this.fetchGeneration(id);
  }

  async fetchGeneration(id) {
    let gen;
    try {
      gen = await this.api.generation(id);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) this.unauthorized();
      return null;
    }
    this.track(gen);
    return gen;
  }

  /** Poll active generations of this page: a safety net for the event stream, and the
   * source of queue position / ETA. Faster when the stream is down. */
  schedulePoll(delay) {
    clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => this.poll(), delay);
  }

  async poll() {
    const active = [...this.runs.values()].filter((g) => ACTIVE.has(g.status));
    if (!active.length) return;
    await Promise.all(active.map((g) => this.fetchGeneration(g.generation_id)));
    this.schedulePoll(this.stream.state === "live" ? 2000 : 1000);
  }

  updateRunButtons() {
    const active = (this.current?.ids || []).some((id) => ACTIVE.has(this.runs.get(id)?.status));
    $("#cancel-button").hidden = !active;
    $(".btn-run-label").textContent = active ? "Queue another" : "Run";
  }

  // --- stage ---------------------------------------------------------------------------
  isBatchShown(id) {
    const batch = this.batches.get(this.shownId);
    return !!batch && batch.includes(id);
  }

  showGeneration(gen) {
    this.runs.set(gen.generation_id, { ...(this.runs.get(gen.generation_id) || {}), ...gen });
    this.shownId = gen.generation_id;
    this.stageMode = "result";
    this.beforeIndex = 0;
    this.renderStage();
    if (ACTIVE.has(gen.status)) this.schedulePoll(200);
  }

  /** From history: show it on the playground's stage. */
  openGeneration(gen) {
    this.showView("playground");
    this.showGeneration(gen);
    $("#stage").scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  restore(gen) {
    const params = paramsOf(gen, this.schema);
    const refs = params.input_image || [];
    const thumbs = gen.input_urls || [];
    const images = refs.map((url, i) => ({
      // data: URIs are not echoed; the stored copy's signed URL works as an input too.
      url: url.startsWith("data:") ? thumbs[i] : url,
      thumb: thumbs[i] || url,
    }));
    this.applyParams(params, images);
    if (gen.seed !== undefined && gen.seed !== null) this.form.lockSeed(gen.seed);
    this.showView("playground");
    toast("Parameters restored (seed locked to the one used)", "ok");
    this.form.fields.get("prompt")?.focus();
  }

  useAsInput(gen, mode) {
    const images = this.form.imageField;
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
    this.showView("playground");
    toast(mode === "replace" ? "The output is now Picture 1" : `Added as Picture ${images.items.length}`, "ok");
  }

  renderStage() {
    const stage = $("#stage");
    clear(stage);
    clearInterval(this.tickTimer);
    this.stage = {};
    const gen = this.shownId && this.runs.get(this.shownId);
    if (!gen) {
      stage.dataset.state = "empty";
      stage.append(
        h(
          "div.stage-canvas.stage-empty",
          {},
          h("div.empty-art", { "aria-hidden": "true" }, icon("wand", "icon-xl")),
          h("h2", {}, "Your edit appears here"),
          h("p.muted", {}, "Add up to three pictures, describe the change, and press ", h("kbd", {}, "Run"), "."),
          h(
            "ul.empty-tips",
            {},
            h("li", {}, "Refer to inputs as ", h("em", {}, "Picture 1"), ", ", h("em", {}, "Picture 2"), ", ", h("em", {}, "Picture 3"), "."),
            h("li", {}, "Paste an image (", h("kbd", {}, "Ctrl V"), ") or drop it on the form."),
            h("li", {}, "Open ", h("strong", {}, "API"), " for the same call as cURL or Python."),
          ),
        ),
      );
      return;
    }
    stage.dataset.state = gen.status;
    stage.dataset.generationId = gen.generation_id;
    if (ACTIVE.has(gen.status)) stage.append(this.progressCanvas(gen));
    else if (gen.status === "succeeded") stage.append(this.resultCanvas(gen), this.resultBar(gen));
    else stage.append(this.endedCanvas(gen));
    const strip = h("div.batch-strip-host");
    stage.append(strip);
    this.stage.strip = strip;
    this.renderBatchStrip();
  }

  progressCanvas(gen) {
    const bar = h("div.progress", { role: "progressbar", "aria-label": "Progress", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" }, h("div.progress-fill"));
    const step = h("div.progress-step", { dataset: { testid: "progress-step" } });
    const stageLabel = h("div.progress-stage");
    const elapsed = h("span.progress-elapsed", { dataset: { testid: "elapsed" } });
    const extra = h("span.progress-extra");
    const cancel = h("button.btn.btn-danger.btn-sm", { type: "button", onclick: () => this.cancelOne(gen.generation_id) }, icon("stop"), h("span", {}, "Cancel"));
    const bg = gen.input_urls?.[0] ? h("img.stage-bg", { src: gen.input_urls[0], alt: "", "aria-hidden": "true" }) : null;
    const canvas = h(
      "div.stage-canvas.stage-progress",
      {},
      bg,
      h(
        "div.progress-card",
        {},
        h("div.progress-top", {}, h("span.pulse", { "aria-hidden": "true" }), stageLabel, h("span.spacer"), elapsed),
        step,
        bar,
        h("div.progress-bottom", {}, extra, h("span.spacer"), cancel),
      ),
    );
    this.stage.progress = { bar, step, stageLabel, elapsed, extra };
    this.updateProgress(gen);
    this.tickTimer = setInterval(() => this.tick(), 250);
    return canvas;
  }

  updateProgress(gen) {
    const p = this.stage?.progress;
    if (!p) return;
    const progress = gen.progress;
    let pct = 0;
    if (gen.status === "queued") {
      p.stageLabel.textContent = "Queued";
      p.step.textContent = gen.queue_position ? `Position ${gen.queue_position} in the queue` : "Waiting for a worker";
      p.extra.textContent = gen.eta_seconds ? `Starts in about ${fmtDuration(gen.eta_seconds)}` : "";
    } else {
      p.stageLabel.textContent = titleStage(gen.stage) || "Starting";
      if (progress && progress.total) {
        pct = (progress.step / progress.total) * 100;
        p.step.textContent = `Step ${progress.step} of ${progress.total}`;
      } else {
        p.step.textContent = gen.stage === "denoising" ? "Denoising" : "Preparing";
      }
      p.extra.textContent = gen.eta_seconds ? `About ${fmtDuration(gen.eta_seconds)} left` : sizeLabel(gen) ? `${sizeLabel(gen)} · seed ${gen.seed ?? "…"}` : "";
    }
    p.bar.classList.toggle("indeterminate", !(progress && progress.total));
    p.bar.setAttribute("aria-valuenow", String(Math.round(pct)));
    p.bar.dataset.step = progress ? String(progress.step) : "";
    p.bar.dataset.total = progress ? String(progress.total) : "";
    p.bar.firstChild.style.setProperty("--pct", `${pct}%`);
    this.tick();
  }

  tick() {
    const gen = this.runs.get(this.shownId);
    const p = this.stage?.progress;
    if (!gen || !p) return;
    const since = gen.status === "queued" ? (gen.enqueued_at ? gen.enqueued_at * 1000 : null) : this.firstSeen.get(gen.generation_id) || (gen.started_at ? gen.started_at * 1000 : null);
    const seconds = since ? (Date.now() - since) / 1000 : 0;
    p.elapsed.textContent = `${fmtClock(seconds)} ${gen.status === "queued" ? "waiting" : "elapsed"}`;
  }

  async cancelOne(id) {
    try {
      await this.api.cancel(id);
      toast("Cancelling…");
      this.fetchGeneration(id);
    } catch (err) {
      toast(`Cancel failed: ${err.message}`, "error");
    }
  }

  resultCanvas(gen) {
    const inputs = gen.input_urls || [];
    if (this.stageMode === "before-after" && inputs.length) {
      const index = Math.min(this.beforeIndex, inputs.length - 1);
      const ratio = gen.width && gen.height ? gen.width / gen.height : null;
      const picker = inputs.length > 1
        ? h(
            "div.segmented.segmented-compact.ba-picker",
            { role: "radiogroup", "aria-label": "Compare with" },
            inputs.map((_, i) => {
              const input = h("input.visually-hidden", { type: "radio", name: "ba-input", id: `ba-input-${i}`, value: String(i) });
              input.checked = i === index;
              input.addEventListener("change", () => {
                this.beforeIndex = i;
                this.renderStage();
                $("#ba-input-" + i)?.focus();
              });
              return h("label.seg", { for: `ba-input-${i}` }, input, h("span", {}, `Picture ${i + 1}`));
            }),
          )
        : null;
      return h("div.stage-canvas.stage-ba", {}, beforeAfter({ before: inputs[index], after: gen.result_url, beforeLabel: `Picture ${index + 1}`, afterLabel: "Output", ratio }), picker);
    }
    const img = h("img.stage-img", { src: gen.result_url, alt: gen.prompt ? `Output: ${gen.prompt}` : "Output", dataset: { testid: "result-image" } });
    if (gen.width && gen.height) img.style.setProperty("--r", String(gen.width / gen.height));
    return h("div.stage-canvas.stage-result", {}, h("a.stage-img-link", { href: gen.result_url, target: "_blank", rel: "noopener noreferrer", title: "Open full size" }, img));
  }

  resultBar(gen) {
    const params = paramsOf(gen, this.schema);
    const hasInputs = (gen.input_urls || []).length > 0;
    const ba = this.stageMode === "before-after";
    const menu = h(
      "details.menu",
      {},
      h("summary.btn.btn-ghost.btn-sm", { "aria-label": "Use output as input", title: "Use the output as an input" }, icon("reuse"), h("span", {}, "Use as input")),
      h(
        "div.menu-list",
        { role: "menu" },
        h("button.menu-item", { type: "button", role: "menuitem", onclick: (e) => { e.target.closest("details").open = false; this.useAsInput(gen, "replace"); } }, h("strong", {}, "Replace the inputs"), h("span.muted", {}, "Keep editing this output as Picture 1")),
        h("button.menu-item", { type: "button", role: "menuitem", onclick: (e) => { e.target.closest("details").open = false; this.useAsInput(gen, "add"); } }, h("strong", {}, "Add as next picture"), h("span.muted", {}, "Combine it with the current inputs")),
      ),
    );
    const chips = [
      sizeLabel(gen),
      gen.seed !== undefined && gen.seed !== null ? `seed ${gen.seed}` : null,
      params.num_inference_steps ? `${params.num_inference_steps} steps` : null,
      params.true_cfg_scale ? `CFG ${params.true_cfg_scale}` : null,
      runSeconds(gen) ? fmtDuration(runSeconds(gen)) : null,
    ].filter(Boolean);
    return h(
      "div.stage-bar",
      {},
      h("div.stage-meta", {}, h("p.stage-prompt", { title: gen.prompt || "" }, gen.prompt || ""), h("p.stage-facts", {}, chips.join("  ·  "))),
      h(
        "div.stage-actions",
        {},
        hasInputs ? h("button.btn.btn-ghost.btn-sm", { type: "button", "aria-label": "Before / after", title: "Compare with an input", "aria-pressed": String(ba), onclick: () => { this.stageMode = ba ? "result" : "before-after"; this.renderStage(); } }, icon("slider"), h("span", {}, "Before / after")) : null,
        menu,
        gen.seed !== undefined && gen.seed !== null ? h("button.btn.btn-ghost.btn-sm", { type: "button", "aria-label": "Reuse seed", title: "Lock the seed to this run's", onclick: () => { this.form.lockSeed(gen.seed); toast(`Seed locked to ${gen.seed}`, "ok"); } }, icon("lock"), h("span", {}, "Reuse seed")) : null,
        h("a.btn.btn-primary.btn-sm", { href: gen.result_url, download: resultFilename(gen), "aria-label": "Download", dataset: { testid: "download" } }, icon("download"), h("span", {}, "Download")),
      ),
    );
  }

  endedCanvas(gen) {
    const failed = gen.status === "failed";
    return h(
      "div.stage-canvas.stage-ended",
      {},
      h(
        "div.ended-card",
        { role: failed ? "alert" : "status" },
        icon(failed ? "warn" : "x", "icon-xl"),
        h("h2", {}, failed ? "The run failed" : "Cancelled"),
        gen.error_message ? h("p.ended-error", {}, gen.error_message) : null,
        h("div.ended-actions", {}, h("button.btn.btn-ghost.btn-sm", { type: "button", onclick: () => this.restore(gen) }, icon("reuse"), h("span", {}, "Restore parameters"))),
      ),
    );
  }

  renderBatchStrip() {
    const host = this.stage?.strip;
    if (!host) return;
    clear(host);
    const batch = this.batches.get(this.shownId);
    if (!batch || batch.length < 2) return;
    host.append(
      h(
        "ol.batch-strip",
        { "aria-label": "Outputs of this run" },
        batch.map((id, i) => {
          const g = this.runs.get(id) || { generation_id: id, status: "queued" };
          return h(
            "li",
            {},
            h("button.batch-item", { type: "button", "aria-current": id === this.shownId ? "true" : null, "aria-label": `Output ${i + 1}: ${g.status}`, onclick: () => this.showGeneration(g) }, thumb(g), h("span.batch-label", {}, statusLabel(g))),
          );
        }),
      ),
    );
  }

  // --- history hooks -------------------------------------------------------------------
  historyChanged(items, total) {
    const count = $("#history-count");
    count.hidden = !total;
    count.textContent = total ? String(total) : "";
    const strip = $("#recent-strip");
    clear(strip);
    const recent = items.slice(0, 12);
    if (!recent.length) {
      strip.append(h("li.recent-empty.muted", {}, "Runs you make show up here."));
      return;
    }
    for (const gen of recent) {
      strip.append(
        h(
          "li",
          {},
          h(
            "button.recent-item",
            {
              type: "button",
              "aria-current": gen.generation_id === this.shownId ? "true" : null,
              "aria-label": `Show run ${shortId(gen.generation_id)}: ${gen.prompt || ""}`,
              title: gen.prompt || "",
              dataset: { status: gen.status },
              onclick: () => this.showGeneration(gen),
            },
            thumb(gen),
          ),
        ),
      );
    }
    // A run created by another client while this page is open: track it too.
    for (const gen of recent) if (ACTIVE.has(gen.status) && !this.runs.has(gen.generation_id)) this.runs.set(gen.generation_id, { ...gen });
  }
}

new App().start();
