// The event stream's wiring (its events update the runs; coming back live re-fetches the
// active ones) and the connection indicator in the top bar, which also tells whether the
// model's workers are ready.

import { $ } from "./dom.js";

export class Connection {
  constructor(app) {
    this.app = app;
  }

  init() {
    const { stream, runner } = this.app;
    stream.on("state", (state) => {
      if (state === "unauthorized") this.app.keys.unauthorized();
      if (state === "live") runner.resync();
      this.update();
    });
    stream.on("media_generation_started", (d) => runner.onEvent(d, { status: "processing" }));
    stream.on("media_generation_progress", (d) => runner.onEvent(d, { status: "processing" }));
    stream.on("media_generation_completed", (d) => runner.onEvent(d, {}));
    stream.on("media_generation_cancelled", (d) => runner.onEvent(d, { status: "cancelled" }));
    window.addEventListener("online", () => this.app.api.key && stream.state !== "live" && stream.start());
  }

  update() {
    const el = $("#conn");
    const stream = this.app.stream.state;
    const readiness = this.app.card?.readiness;
    let state = "idle";
    let text = "Offline";
    if (!this.app.api.key) text = "No key";
    else if (stream === "live" && (readiness === "ready" || !readiness)) [state, text] = ["live", "Live"];
    else if (stream === "live" && readiness === "loading") [state, text] = ["warn", "Model loading"];
    else if (stream === "live") [state, text] = ["warn", readiness === "failed" ? "Worker failed" : "No worker"];
    else if (stream === "connecting" || stream === "retrying") [state, text] = ["warn", "Reconnecting"];
    el.dataset.state = state;
    el.dataset.stream = stream;
    el.querySelector(".conn-text").textContent = text;
    el.title = `Event stream: ${stream}${readiness ? ` · model: ${readiness}` : ""}`;
  }
}
