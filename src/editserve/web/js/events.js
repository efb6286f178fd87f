// Server-Sent Events over fetch(): EventSource cannot send an Authorization header, and
// the key must never go into a URL. We read the stream ourselves, parse the SSE wire
// format (id:/event:/data:, comments, blank-line dispatch) and reconnect with
// Last-Event-ID so nothing is missed across drops.

/** Incremental SSE parser: feed() text chunks, get complete events back. */
export class SseParser {
  constructor() {
    this.buffer = "";
    this.reset();
  }

  reset() {
    this.eventType = "";
    this.data = [];
    this.id = null;
  }

  feed(chunk) {
    this.buffer += chunk;
    const events = [];
    let newline;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer[newline] === "\r" && this.buffer[newline + 1] === "\n" ? 2 : 1;
      // A lone "\r" at the very end may be the first half of "\r\n": wait for more.
      if (this.buffer[newline] === "\r" && newline + 1 === this.buffer.length) break;
      this.buffer = this.buffer.slice(newline + width);
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  line(line) {
    if (line === "") {
      if (!this.data.length && !this.eventType) {
        this.reset();
        return null;
      }
      const event = {
        type: this.eventType || "message",
        data: this.data.join("\n"),
        id: this.id,
      };
      this.reset();
      return event;
    }
    if (line.startsWith(":")) return null; // comment (": keep-alive")
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.eventType = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.id = value;
    return null;
  }
}

export class EventStream {
  /**
   * @param {() => string|null} getKey  the current API key
   * @param {string} url                the stream's URL (same origin)
   */
  constructor(getKey, url = "/api/events") {
    this.getKey = getKey;
    this.url = url;
    this.lastEventId = null;
    this.handlers = new Map();
    this.controller = null;
    this.state = "idle"; // idle | connecting | live | retrying | unauthorized
    this.retryMs = 1000;
    this.generation = 0;
  }

  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(handler);
    return () => this.handlers.get(type).delete(handler);
  }

  emit(type, payload) {
    for (const handler of this.handlers.get(type) || []) {
      try {
        handler(payload);
      } catch (err) {
        console.error("event handler failed", err);
      }
    }
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }

  start() {
    this.stop();
    const run = ++this.generation;
    this.loop(run);
  }

  stop() {
    this.generation++;
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.setState("idle");
  }

  async loop(run) {
    while (run === this.generation) {
      const key = this.getKey();
      if (!key) {
        this.setState("idle");
        return;
      }
      this.setState("connecting");
      const controller = new AbortController();
      this.controller = controller;
      try {
        const headers = { Accept: "text/event-stream", Authorization: `Bearer ${key}` };
        if (this.lastEventId !== null) headers["Last-Event-ID"] = this.lastEventId;
        const response = await fetch(this.url, {
          headers,
          signal: controller.signal,
          cache: "no-store",
        });
        if (response.status === 401) {
          this.setState("unauthorized");
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        this.setState("live");
        this.retryMs = 1000;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        const parser = new SseParser();
        for (;;) {
          const { value, done } = await reader.read();
          if (done || run !== this.generation) break;
          for (const event of parser.feed(value)) this.dispatch(event);
        }
      } catch (err) {
        if (run !== this.generation) return;
        if (err.name !== "AbortError") console.debug("event stream dropped:", err.message);
      }
      if (run !== this.generation) return;
      this.setState("retrying");
      await new Promise((resolve) => setTimeout(resolve, this.retryMs));
      this.retryMs = Math.min(this.retryMs * 2, 15000);
    }
  }

  dispatch(event) {
    if (event.id !== null && event.id !== "") this.lastEventId = event.id;
    let payload = event.data;
    try {
      payload = JSON.parse(event.data);
    } catch {
      /* not JSON: pass the text through */
    }
    this.emit(event.type, payload);
    this.emit("*", { type: event.type, data: payload, id: event.id });
  }
}
