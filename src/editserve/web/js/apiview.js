// The API tab: the exact call for the current parameters, in every flavour, with a copy
// button. Snippets read the key from $EDITSERVE_API_KEY — the page never prints the key.

import { h, icon, clear, copyText, toast } from "./dom.js";
import { SNIPPETS, buildSnippet } from "./snippets.js";

const PLACEHOLDER_PROMPT = { edit: "Describe the edit", generate: "Describe the picture" };
const PLACEHOLDER_IMAGE = "https://example.com/picture-1.png";

export class ApiView {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.current = localStorage.getItem("editserve.snippet") || SNIPPETS[0].id;
    if (!SNIPPETS.some((s) => s.id === this.current)) this.current = SNIPPETS[0].id;
    this.build();
  }

  build() {
    this.nav = h("div.snippet-nav", { role: "tablist", "aria-label": "Snippet", "aria-orientation": "vertical" });
    this.buttons = SNIPPETS.map((s) => {
      const button = h(
        "button.snippet-tab",
        {
          type: "button",
          role: "tab",
          id: `snippet-${s.id}`,
          dataset: { snippet: s.id },
          onclick: () => this.select(s.id),
          onkeydown: (e) => this.navKey(e),
        },
        h("span.snippet-tab-label", {}, s.label),
        h("span.snippet-tab-sub", {}, s.sub),
      );
      this.nav.append(button);
      return button;
    });
    this.code = h("code", {});
    this.pre = h("pre.code", { tabindex: "0", "aria-label": "Code" }, this.code);
    this.copyBtn = h("button.btn.btn-primary.btn-sm.copy-btn", { type: "button", onclick: () => this.copy() }, icon("copy"), h("span", {}, "Copy"));
    this.title = h("h3.code-title");
    this.notes = h("div.api-notes");
    this.notesKind = null;
    this.warning = h("p.banner.banner-info.api-warning", { hidden: true });
    const panel = h(
      "div.code-panel",
      { role: "tabpanel" },
      h("div.code-head", {}, this.title, this.copyBtn),
      this.warning,
      this.pre,
    );
    this.root.append(
      h(
        "div.api-intro",
        {},
        h("h2.section-title", {}, "Call it from your code"),
        h("p.muted", {}, "The exact call for the parameters in the playground, ready to paste. It reads your key from ", h("code", {}, "$EDITSERVE_API_KEY"), ": run ", h("code", {}, "export EDITSERVE_API_KEY=es_…"), " first."),
      ),
      h("div.api-layout", {}, this.nav, h("div.api-main", {}, panel, this.notes)),
    );
  }

  navKey(e) {
    const i = this.buttons.indexOf(e.currentTarget);
    let next = null;
    if (e.key === "ArrowDown" || e.key === "ArrowRight") next = (i + 1) % this.buttons.length;
    if (e.key === "ArrowUp" || e.key === "ArrowLeft") next = (i - 1 + this.buttons.length) % this.buttons.length;
    if (e.key === "Home") next = 0;
    if (e.key === "End") next = this.buttons.length - 1;
    if (next === null) return;
    e.preventDefault();
    this.select(SNIPPETS[next].id);
    this.buttons[next].focus();
  }

  select(id) {
    this.current = id;
    localStorage.setItem("editserve.snippet", id);
    this.refresh();
  }

  context() {
    const params = { ...this.app.form.values() };
    const missing = [];
    if (!params.prompt || !String(params.prompt).trim()) {
      params.prompt = PLACEHOLDER_PROMPT[this.app.kind] || PLACEHOLDER_PROMPT.edit;
      missing.push("a prompt");
    }
    const images = this.app.form.imageField;
    if (images && !params.input_image?.length) {
      params.input_image = [PLACEHOLDER_IMAGE];
      missing.push("an input image");
    }
    // Keep the schema's order (prompt, input_image, …) whatever was filled first.
    const ordered = {};
    for (const name of Object.keys(this.app.schema?.properties || params)) if (name in params) ordered[name] = params[name];
    for (const [k, v] of Object.entries(params)) if (!(k in ordered)) ordered[k] = v;
    return {
      ctx: {
        baseUrl: this.app.api.baseUrl,
        model: this.app.modelId || "qwen-image-edit-plus",
        kind: this.app.kind,
        params: ordered,
        numGenerations: this.app.numGenerations(),
      },
      missing,
    };
  }

  refresh() {
    const spec = SNIPPETS.find((s) => s.id === this.current);
    this.buttons.forEach((b) => {
      const on = b.dataset.snippet === this.current;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
    });
    this.pre.parentElement.setAttribute("aria-labelledby", `snippet-${this.current}`);
    const { ctx, missing } = this.context();
    if (this.notesKind !== ctx.kind) this.renderNotes(ctx.kind);
    const text = buildSnippet(this.current, ctx);
    this.text = text;
    this.title.textContent = `${spec.label} · ${spec.sub}`;
    this.pre.dataset.lang = spec.lang;
    this.pre.dataset.snippet = spec.id;
    clear(this.code).append(...highlight(text, spec.lang));
    this.warning.hidden = !missing.length;
    this.warning.textContent = missing.length
      ? `Placeholders in use: add ${missing.join(" and ")} in the playground to get a call that runs as is.`
      : "";
  }

  async copy() {
    const ok = await copyText(this.text || "");
    const label = this.copyBtn.lastChild;
    label.textContent = ok ? "Copied" : "Copy failed";
    // A lasting record of each copy (the label reverts after a moment).
    this.copyBtn.dataset.copies = String(Number(this.copyBtn.dataset.copies || 0) + 1);
    this.copyBtn.dataset.copyResult = ok ? "ok" : "failed";
    clear(this.copyBtn.firstChild).append(icon(ok ? "check" : "x").firstChild);
    toast(ok ? "Copied to the clipboard" : "Could not copy — select the code instead", ok ? "ok" : "error");
    setTimeout(() => {
      label.textContent = "Copy";
      clear(this.copyBtn.firstChild).append(icon("copy").firstChild);
    }, 1600);
  }

  renderNotes(kind) {
    this.notesKind = kind;
    const generate = kind === "generate";
    const sync = generate ? "POST /api/ai/images/generate" : "POST /api/ai/images/edit";
    clear(this.notes).append(
      h(
        "ul.notes",
        {},
        h("li", {}, h("strong", {}, "Sync"), ` waits for the ${generate ? "pictures" : "image"} (`, h("code", {}, sync), generate ? "; num_generations 1–4 gives that many" : "", "); past the server's limit it answers 504 with the ", h("code", {}, "generation_id"), " to keep polling."),
        h("li", {}, h("strong", {}, "Async"), " enqueues (", h("code", {}, "POST /api/ai/queue"), ") and then polls ", h("code", {}, "GET /api/ai/queue/$ID"), " or listens on ", h("code", {}, "GET /api/events"), " (Server-Sent Events)."),
        generate
          ? h("li", {}, h("strong", {}, "OpenAI SDK"), " calls ", h("code", {}, "POST /v1/images/generations"), " with a JSON body; ", h("code", {}, "size"), " is an exact WIDTHxHEIGHT or auto, and the model's own parameters ride in ", h("code", {}, "extra_body"), ".")
          : h("li", {}, h("strong", {}, "OpenAI SDK"), " calls ", h("code", {}, "POST /v1/images/edits"), " with the pictures as files; ", h("code", {}, "size"), " picks the aspect ratio and the model's own parameters ride in ", h("code", {}, "extra_body"), "."),
        generate
          ? h("li", {}, "A text-to-image model takes a prompt alone: no pictures are sent. ", h("code", {}, "jq"), " is used to read JSON in the polling example.")
          : h("li", {}, "Uploaded pictures (and a painted mask) appear as their upload URLs; they work with the key that uploaded them. ", h("code", {}, "jq"), " is used to read JSON in the polling example."),
        h("li", {}, "Result URLs are signed links that need no key; they last as long as their generation is kept (a pruned one answers 404), or until the key that made it is revoked."),
      ),
    );
  }
}

// A tiny highlighter: comments, strings, flags and keywords. Returns nodes (never HTML).
const RULES = {
  bash: /(#[^\n]*)|('(?:[^'])*'|"(?:\\.|[^"\\])*")|(\s-{1,2}[A-Za-z][\w-]*)|\b(curl|jq|awk|sed|echo|for|in|do|done|while|if|then|else|fi|case|esac|exec|read|kill|sleep)\b|(\$\{?[A-Za-z_]\w*\}?)/g,
  python: /(#[^\n]*)|(f?"(?:\\.|[^"\\])*"|f?'(?:\\.|[^'\\])*')|\b(import|from|for|in|if|else|not|while|True|False|None|with|as|raise|break|print)\b/g,
  json: /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?)/g,
};

function highlight(text, lang) {
  const rule = RULES[lang];
  if (!rule) return [text];
  const out = [];
  let last = 0;
  rule.lastIndex = 0;
  for (let m; (m = rule.exec(text)); ) {
    if (m.index > last) out.push(text.slice(last, m.index));
    let cls = "tok-kw";
    if (lang === "json") cls = m[1] ? (m[2] ? "tok-key" : "tok-str") : m[3] ? "tok-kw" : "tok-num";
    else if (m[1]) cls = "tok-comment";
    else if (m[2]) cls = "tok-str";
    else if (lang === "bash" && m[3]) cls = "tok-flag";
    else if (lang === "bash" && m[5]) cls = "tok-var";
    out.push(h("span", { class: cls }, m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
