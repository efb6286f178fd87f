// The editserve HTTP API as the workbench uses it. The key only ever travels in the
// Authorization header — never in a URL, never in a log line.

export class ApiError extends Error {
  constructor(status, type, title, detail) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.type = type || "unknown_error";
    this.title = title || "";
    this.detail = detail || "";
  }

  /**
   * invalid_params details are `; `-separated items, each "<field path>: <message>".
   * Returns [{path, field, index, message}] (field = the top-level parameter name).
   */
  fieldErrors() {
    if (!this.detail) return [];
    return splitDetail(this.detail).map((item) => {
      const match = item.match(/^([A-Za-z_][\w]*)((?:\[\d+\]|\.[\w]+)*):\s*(.*)$/s);
      if (!match) return { path: null, field: null, index: null, message: item };
      const index = match[2].match(/^\[(\d+)\]/);
      return {
        path: match[1] + match[2],
        field: match[1],
        index: index ? Number(index[1]) : null,
        message: match[3],
      };
    });
  }
}

// Split on "; " only where the next item starts with a field path ("name:" / "name[1]:"),
// so a message that itself contains "; " stays whole.
export function splitDetail(detail) {
  const parts = [];
  let current = "";
  for (const piece of detail.split("; ")) {
    if (current && /^[A-Za-z_][\w]*(?:\[\d+\]|\.[\w]+)*:\s/.test(piece)) {
      parts.push(current);
      current = piece;
    } else {
      current = current ? `${current}; ${piece}` : piece;
    }
  }
  if (current) parts.push(current);
  return parts;
}

export class Api {
  constructor(baseUrl = location.origin) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.key = null;
  }

  setKey(key) {
    this.key = key || null;
  }

  headers(extra = {}) {
    const headers = { Accept: "application/json", ...extra };
    if (this.key) headers.Authorization = `Bearer ${this.key}`;
    return headers;
  }

  async request(method, path, { json, body, headers, signal } = {}) {
    const init = { method, headers: this.headers(headers), signal, cache: "no-store" };
    if (json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    } else if (body !== undefined) {
      init.body = body;
    }
    let response;
    try {
      response = await fetch(this.baseUrl + path, init);
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, "network_error", "Network error", "The server could not be reached.");
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const error = data && data.error;
      if (error && typeof error === "object") {
        throw new ApiError(response.status, error.type, error.title, error.detail);
      }
      throw new ApiError(
        response.status,
        response.status === 401 ? "unauthenticated" : "http_error",
        response.statusText,
        (text || "").slice(0, 300) || `HTTP ${response.status}`,
      );
    }
    return data;
  }

  models() {
    return this.request("GET", "/api/ai/models");
  }

  model(id) {
    return this.request("GET", `/api/ai/models/${encodeURIComponent(id)}`);
  }

  enqueue(body) {
    return this.request("POST", "/api/ai/queue", { json: body });
  }

  generation(id) {
    return this.request("GET", `/api/ai/queue/${encodeURIComponent(id)}`);
  }

  cancel(id) {
    return this.request("DELETE", `/api/ai/queue/${encodeURIComponent(id)}`);
  }

  history({ page = 1, pageSize = 24, status } = {}) {
    const query = new URLSearchParams({ page: String(page), page_size: String(pageSize) });
    if (status) query.set("status", status);
    return this.request("GET", `/api/ai/generations?${query}`);
  }

  /** The edit tree around a generation: its ancestors and descendants (nodes, edges). */
  lineage(id) {
    return this.request("GET", `/api/ai/generations/${encodeURIComponent(id)}/lineage`);
  }

  /** This key's usage report (GET /api/ai/usage): the last 30 days unless from/to. */
  usage({ from, to, groupBy = "day", key } = {}) {
    const query = new URLSearchParams({ group_by: groupBy });
    if (from) query.set("from", from);
    if (to) query.set("to", to);
    if (key) query.set("key", key);
    return this.request("GET", `/api/ai/usage?${query}`);
  }

  upload(blob, filename = "image") {
    const form = new FormData();
    form.append("file", blob, filename);
    return this.request("POST", "/api/ai/uploads", { body: form });
  }

  /** Fetch an image the browser can reach (same origin or CORS) as a Blob. */
  async fetchBlob(url) {
    const sameOrigin = new URL(url, location.href).origin === location.origin;
    const response = await fetch(url, {
      // Signed URLs need no header; our own upload URLs do.
      headers: sameOrigin && this.key ? { Authorization: `Bearer ${this.key}` } : {},
      cache: "no-store",
    });
    if (!response.ok) throw new ApiError(response.status, "http_error", "", `HTTP ${response.status}`);
    return response.blob();
  }
}
