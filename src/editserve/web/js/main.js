// The workbench: key and model, the schema form, runs on the queue with live progress,
// the output stage, recent runs, history/compare, a run's edit tree, the API tab and the
// key's usage. This module builds the parts, holds what they share (the API, the event
// stream, the form, the model) and starts them.

import { Api } from "./api.js";
import { EventStream } from "./events.js";
import { SchemaForm } from "./form.js";
import { HistoryView } from "./history.js";
import { ApiView } from "./apiview.js";
import { UsageView } from "./usage.js";
import { LineageView } from "./lineage.js";
import { SweepView } from "./sweep.js";
import { $, debounce } from "./dom.js";
import { initTheme } from "./theme.js";
import { Tabs } from "./tabs.js";
import { KeyDialog } from "./keys.js";
import { ModelCard } from "./card.js";
import { Connection } from "./conn.js";
import { Runner } from "./run.js";
import { Stage } from "./stage.js";
import { Draft } from "./draft.js";
import { renderRecent } from "./recent.js";
import { modelKind, schemaOf, servedModel } from "./models.js";

class App {
  constructor() {
    this.api = new Api(location.origin);
    this.stream = new EventStream(() => this.api.key);
    this.models = [];
    this.modelId = null;
    this.card = null;
    this.schema = null;
    this.kind = "edit"; // the picked model's: "edit" (pictures + prompt) or "generate"

    this.tabs = new Tabs(this);
    this.keys = new KeyDialog(this);
    this.modelCard = new ModelCard(this);
    this.conn = new Connection(this);
    this.runner = new Runner(this);
    this.stage = new Stage(this);
    this.draft = new Draft(this);
    this.form = new SchemaForm($("#form-fields"), {
      api: this.api,
      fileInput: $("#file-input"),
      onChange: debounce(() => this.draft.changed(), 120),
    });
    this.history = new HistoryView($("#view-history"), this);
    this.apiView = new ApiView($("#view-api"), this);
    this.usage = new UsageView($("#view-usage"), this);
    this.lineage = new LineageView(this);
    this.sweeps = new SweepView(this);
  }

  start() {
    initTheme();
    this.tabs.init();
    this.keys.init();
    this.runner.init();
    this.conn.init();
    this.draft.initPaste();
    this.tabs.initLayout();
    this.stage.render();
    this.keys.restore();
  }

  // --- what HistoryView and ApiView call -----------------------------------------------
  historyChanged(items, total) {
    renderRecent(this, items, total);
  }

  openGeneration(gen) {
    this.stage.openGeneration(gen);
  }

  restore(gen) {
    this.draft.restore(gen);
  }

  numGenerations() {
    return this.runner.numGenerations();
  }

  // --- a run's model (history and the stage show runs of every served model) ------------
  /** The request schema of the model that made `gen` (the picked one's if not served). */
  runSchema(gen) {
    return schemaOf(this.models, gen.model_name) || this.schema;
  }

  /** "edit" or "generate": the kind of the model that made `gen`. */
  runKind(gen) {
    const model = servedModel(this.models, gen.model_name);
    if (model) return modelKind(model);
    return (gen.input_urls || []).length || (gen.input_image || []).length ? "edit" : "generate";
  }
}

new App().start();
