// Runs from this page: submitting the form to the queue (errors land on the form),
// cancelling, and following each generation through events and polls until it ends.

import { ApiError } from "./api.js";
import { $, fmtDuration, toast } from "./dom.js";
import { ACTIVE, TERMINAL, runSeconds } from "./gen.js";

export class Runner {
  constructor(app) {
    this.app = app;
    this.runs = new Map(); // generation_id → latest known generation object
    this.batches = new Map(); // generation_id → ids of the run it belongs to
    this.firstSeen = new Map(); // generation_id → local ms when first seen processing
    this.current = null; // { ids: [...] } of the latest run from this page
    this.pollTimer = null;
  }

  // --- the form's run controls -----------------------------------------------------------
  init() {
    const form = $("#run-form");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.run();
    });
    document.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key === "Enter" && this.app.tabs.view === "playground") {
        e.preventDefault();
        this.run();
      }
    });
    $("#cancel-button").addEventListener("click", () => this.cancelCurrent());
    const count = $("#num-generations");
    count.value = localStorage.getItem("editserve.n") || "1";
    count.addEventListener("change", () => {
      localStorage.setItem("editserve.n", count.value);
      this.app.draft.changed();
    });
    const isMac = /Mac|iP(hone|ad)/.test(navigator.platform || navigator.userAgent);
    $(".kbd-hint").textContent = isMac ? "⌘ ↵" : "Ctrl ↵";
  }

  numGenerations() {
    return Number($("#num-generations").value) || 1;
  }

  updateButtons() {
    const active = (this.current?.ids || []).some((id) => ACTIVE.has(this.runs.get(id)?.status));
    $("#cancel-button").hidden = !active;
    $(".btn-run-label").textContent = active ? "Queue another" : "Run";
  }

  // --- submitting ------------------------------------------------------------------------
  async run() {
    const { api, form, stage } = this.app;
    if (!api.key) {
      this.app.keys.open();
      return;
    }
    if (!this.app.schema) return;
    await form.ready(); // a mask painted just now is still uploading
    const problems = form.validate();
    this.showFormError("");
    if (problems.length) {
      const unplaced = form.showErrors(problems);
      if (unplaced.length) this.showFormError(unplaced.map((p) => p.message).join(" · "));
      return;
    }
    const body = { model: this.app.modelId, ...form.values() };
    const n = this.numGenerations();
    if (n > 1) body.num_generations = n;
    const button = $("#run-button");
    button.disabled = true;
    button.classList.add("busy");
    try {
      const response = await api.enqueue(body);
      const ids = (response.generations || []).map((g) => g.generation_id);
      const now = Date.now() / 1000;
      this.current = { ids };
      for (const item of response.generations || []) {
        const gen = { ...body, generation_id: item.generation_id, status: item.status || "queued", model_name: this.app.modelId, enqueued_at: now, progress: null, input_urls: form.imageField?.items.map((i) => i.thumb) || [] };
        delete gen.model;
        this.batches.set(item.generation_id, ids);
        this.track(gen);
      }
      stage.shownId = ids[0];
      stage.mode = "result";
      stage.render();
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
      this.app.keys.unauthorized();
      return;
    }
    if (err.type === "invalid_params") {
      const unplaced = this.app.form.showErrors(err.fieldErrors().map((e) => ({ field: e.field, index: e.index, message: e.message })));
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

  // --- cancelling ------------------------------------------------------------------------
  async cancelCurrent() {
    const ids = (this.current?.ids || []).filter((id) => ACTIVE.has(this.runs.get(id)?.status));
    const button = $("#cancel-button");
    button.disabled = true;
    await Promise.all(
      ids.map((id) =>
        this.app.api.cancel(id).catch((err) => toast(`Cancel failed: ${err.message}`, "error")),
      ),
    );
    button.disabled = false;
    ids.forEach((id) => this.fetchGeneration(id));
  }

  async cancelOne(id) {
    try {
      await this.app.api.cancel(id);
      toast("Cancelling…");
      this.fetchGeneration(id);
    } catch (err) {
      toast(`Cancel failed: ${err.message}`, "error");
    }
  }

  // --- following -------------------------------------------------------------------------
  /** Merge what we learned about a generation and update every view that shows it. */
  track(update) {
    const { stage } = this.app;
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
    this.app.history.upsert(gen);
    const becameTerminal = TERMINAL.has(gen.status) && !wasTerminal;
    if (becameTerminal) this.finished(gen);
    if (stage.shownId === id) {
      if (becameTerminal || !stage.parts.progress) stage.render();
      else stage.updateProgress(gen);
    } else if (stage.isBatchShown(id)) {
      stage.renderBatchStrip();
    }
    this.updateButtons();
  }

  finished(gen) {
    if (gen.status === "succeeded" && !gen.result_url) {
      // The event carries only the URL: fetch the full record (seed, size, timings).
      this.fetchGeneration(gen.generation_id);
    }
    if (gen.status === "succeeded" && gen.seed !== undefined && this.current?.ids.includes(gen.generation_id)) this.app.form.noteSeed(gen.seed);
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
      gen = await this.app.api.generation(id);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) this.app.keys.unauthorized();
      return null;
    }
    this.track(gen);
    return gen;
  }

  /** After (re)connecting the stream, fetch what may have changed while it was down. */
  resync() {
    for (const [id, gen] of this.runs) if (ACTIVE.has(gen.status)) this.fetchGeneration(id);
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
    this.schedulePoll(this.app.stream.state === "live" ? 2000 : 1000);
  }
}
