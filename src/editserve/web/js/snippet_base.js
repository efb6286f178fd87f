// What the API tab's snippets share: the request body of the current form, quoting for
// the shell and for Python, the output's file extension and the words that differ
// between an edit model's calls and a text-to-image model's.

/** Single-quote a string for POSIX shells ('it'\''s'). */
export function shellQuote(text) {
  return `'${String(text).replace(/'/g, `'\\''`)}'`;
}

/** The JSON body: the model, then num_generations where the call takes it (the queue;
 * the sync generate call too), then the form's parameters. */
export function jsonBody(ctx, { queue }) {
  const body = { model: ctx.model };
  const counted = queue || ctx.kind === "generate";
  if (counted && ctx.numGenerations > 1) body.num_generations = ctx.numGenerations;
  Object.assign(body, ctx.params);
  return body;
}

export function indentJson(value, pad) {
  return JSON.stringify(value, null, 2).replace(/\n/g, `\n${pad}`);
}

/** A Python literal for a JSON value, indented like black would. */
export function pyLiteral(value, indent = 0) {
  const pad = "    ".repeat(indent);
  const inner = "    ".repeat(indent + 1);
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return pyString(value);
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return `[\n${value.map((v) => inner + pyLiteral(v, indent + 1)).join(",\n")},\n${pad}]`;
  }
  const entries = Object.entries(value);
  if (!entries.length) return "{}";
  return `{\n${entries
    .map(([k, v]) => `${inner}${pyString(k)}: ${pyLiteral(v, indent + 1)}`)
    .join(",\n")},\n${pad}}`;
}

export function pyString(text) {
  // JSON string escapes are valid Python string escapes (\n, \t, \", \\, \uXXXX).
  return JSON.stringify(String(text));
}

const FLOATS = new Set(["true_cfg_scale", "guidance"]);

/** A parameter's value in Python; a float parameter reads as a float (4.0, not 4). */
export function pyFloatish(name, value, indent = 1) {
  if (FLOATS.has(name) && Number.isInteger(value)) return `${value}.0`;
  return pyLiteral(value, indent);
}

export function extension(ctx) {
  return (ctx.params && ctx.params.output_format) || "png";
}

/** The sync call's path: the edit call, or the generate call of a text-to-image model. */
export function syncPath(ctx) {
  return ctx.kind === "generate" ? "/api/ai/images/generate" : "/api/ai/images/edit";
}

/** What enqueueing checks: an edit model's inputs are fetched then, a prompt alone is not. */
export function enqueueNote(ctx) {
  return ctx.kind === "generate" ? "validates the request now" : "validates and fetches the inputs now";
}
