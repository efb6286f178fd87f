// The API tab's code: for the current parameters, the exact calls as cURL (sync, async
// with polling, async with SSE) and Python (requests, editserve's client). Pure functions
// of ({baseUrl, model, params, numGenerations}) so the page and the tests agree.
//
// Every snippet reads the key from $EDITSERVE_API_KEY; the real key is never printed.

export const SNIPPETS = [
  { id: "curl-sync", label: "cURL", sub: "sync", lang: "bash" },
  { id: "curl-poll", label: "cURL", sub: "async · polling", lang: "bash" },
  { id: "curl-sse", label: "cURL", sub: "async · SSE", lang: "bash" },
  { id: "python-requests", label: "Python", sub: "requests", lang: "python" },
  { id: "python-client", label: "Python", sub: "editserve client", lang: "python" },
  { id: "python-openai", label: "Python", sub: "OpenAI SDK", lang: "python" },
  { id: "json", label: "JSON", sub: "request body", lang: "json" },
];

/** Single-quote a string for POSIX shells ('it'\''s'). */
export function shellQuote(text) {
  return `'${String(text).replace(/'/g, `'\\''`)}'`;
}

function jsonBody(ctx, { queue }) {
  const body = { model: ctx.model };
  if (queue && ctx.numGenerations > 1) body.num_generations = ctx.numGenerations;
  Object.assign(body, ctx.params);
  return body;
}

function indentJson(value, pad) {
  return JSON.stringify(value, null, 2).replace(/\n/g, `\n${pad}`);
}

/** A Python literal for a JSON value, indented like black would. */
export function pyLiteral(value, indent = 0) {
  const pad = "    ".repeat(indent);
  const inner = "    ".repeat(indent + 1);
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : String(value);
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

function pyFloatish(name, value) {
  // A float parameter should read as a float (4.0, not 4) in Python.
  if (name === "true_cfg_scale" && Number.isInteger(value)) return `${value}.0`;
  return pyLiteral(value, 1);
}

function curlSync(ctx) {
  const body = jsonBody(ctx, { queue: false });
  return [
    `curl -sS -X POST ${ctx.baseUrl}/api/ai/images/edit \\`,
    `  -H "Authorization: Bearer $EDITSERVE_API_KEY" \\`,
    `  -H "Content-Type: application/json" \\`,
    `  -d ${shellQuote(indentJson(body, "  "))}`,
  ].join("\n");
}

function curlPoll(ctx) {
  const body = jsonBody(ctx, { queue: true });
  const ext = extension(ctx);
  return [
    `BASE=${ctx.baseUrl}`,
    `AUTH="Authorization: Bearer $EDITSERVE_API_KEY"`,
    ``,
    `# 1. Enqueue (the server validates and fetches the inputs now, or answers 400)`,
    `RESPONSE=$(curl -sS -X POST "$BASE/api/ai/queue" \\`,
    `  -H "$AUTH" -H "Content-Type: application/json" \\`,
    `  -d ${shellQuote(indentJson(body, "  "))})`,
    `IDS=$(echo "$RESPONSE" | jq -r '.generations[]?.generation_id')`,
    `[ -n "$IDS" ] || echo "$RESPONSE"`,
    ``,
    `# 2. Poll each generation until it is done, then download the image`,
    `for ID in $IDS; do`,
    `  while :; do`,
    `    GEN=$(curl -sS "$BASE/api/ai/queue/$ID" -H "$AUTH")`,
    `    STATUS=$(echo "$GEN" | jq -r .status)`,
    `    case "$STATUS" in queued|processing) ;; *) break ;; esac`,
    `    echo "$ID $STATUS $(echo "$GEN" | jq -r 'if .progress then "step \\(.progress.step)/\\(.progress.total)" else "" end')"`,
    `    sleep 1`,
    `  done`,
    `  echo "$GEN" | jq -c '{generation_id, status, seed, result_url, error_message}'`,
    `  if [ "$STATUS" = succeeded ]; then`,
    `    curl -sSL -o "$ID.${ext}" "$(echo "$GEN" | jq -r .result_url)" && echo "saved $ID.${ext}"`,
    `  fi`,
    `done`,
  ].join("\n");
}

function curlSse(ctx) {
  const body = jsonBody(ctx, { queue: false });
  return [
    `BASE=${ctx.baseUrl}`,
    `AUTH="Authorization: Bearer $EDITSERVE_API_KEY"`,
    ``,
    `# 1. Open the event stream first, so even a fast run cannot finish unseen.`,
    `#    It is live once its response headers (-D -) have arrived.`,
    `exec 3< <(curl -sSN -D - "$BASE/api/events" -H "$AUTH")`,
    `LISTENER=$!`,
    `while IFS= read -r LINE <&3 && [ -n "\${LINE%$'\\r'}" ]; do :; done`,
    ``,
    `# 2. Enqueue`,
    `RESPONSE=$(curl -sS -X POST "$BASE/api/ai/queue" \\`,
    `  -H "$AUTH" -H "Content-Type: application/json" \\`,
    `  -d ${shellQuote(indentJson(body, "  "))})`,
    `ID=$(echo "$RESPONSE" | sed -n 's/.*"generation_id":"\\([^"]*\\)".*/\\1/p')`,
    ``,
    `# 3. Wait for its media_generation_completed event and print its data`,
    `if [ -n "$ID" ]; then`,
    `  awk -v want="\\"generation_id\\":\\"$ID\\"" '`,
    `    /^event: media_generation_completed$/ { completed = 1; next }`,
    `    completed && /^data: / && index($0, want) { print substr($0, 7); exit }`,
    `    /^$/ { completed = 0 }' <&3`,
    `else`,
    `  echo "$RESPONSE"`,
    `fi`,
    `exec 3<&-; kill "$LISTENER" 2>/dev/null`,
  ].join("\n");
}

function pythonRequests(ctx) {
  const body = jsonBody(ctx, { queue: true });
  const ext = extension(ctx);
  const lines = Object.entries(body).map(([k, v]) => `    ${pyString(k)}: ${pyFloatish(k, v)},`);
  return [
    `import os`,
    `import time`,
    ``,
    `import requests`,
    ``,
    `BASE = ${pyString(ctx.baseUrl)}`,
    `HEADERS = {"Authorization": f"Bearer {os.environ['EDITSERVE_API_KEY']}"}`,
    ``,
    `payload = {`,
    ...lines,
    `}`,
    ``,
    `# Enqueue; the server validates and fetches the inputs now (400 names the field).`,
    `response = requests.post(f"{BASE}/api/ai/queue", json=payload, headers=HEADERS, timeout=120)`,
    `if not response.ok:`,
    `    raise SystemExit(response.text)`,
    ``,
    `for item in response.json()["generations"]:`,
    `    # Poll until the generation is done (or listen on {BASE}/api/events).`,
    `    while True:`,
    `        generation = requests.get(`,
    `            f"{BASE}/api/ai/queue/{item['generation_id']}", headers=HEADERS, timeout=30`,
    `        ).json()`,
    `        if generation["status"] not in ("queued", "processing"):`,
    `            break`,
    `        time.sleep(1)`,
    ``,
    `    if generation["status"] == "succeeded":`,
    `        path = f"{generation['generation_id']}.${ext}"`,
    `        with open(path, "wb") as out:`,
    `            out.write(requests.get(generation["result_url"], timeout=120).content)`,
    `        print("saved", path, "seed", generation["seed"])`,
    `    else:`,
    `        print(generation["status"], generation["error_message"])`,
  ].join("\n");
}

function pythonClient(ctx) {
  const ext = extension(ctx);
  const args = Object.entries(ctx.params).map(([k, v]) => `    ${k}=${pyFloatish(k, v)},`);
  const queueArgs = [`    model=${pyString(ctx.model)},`];
  if (ctx.numGenerations > 1) queueArgs.push(`    num_generations=${ctx.numGenerations},`);
  return [
    `import os`,
    ``,
    `from editserve import Client`,
    ``,
    `client = Client(base_url=${pyString(ctx.baseUrl)}, api_key=os.environ["EDITSERVE_API_KEY"])`,
    ``,
    `# Synchronous: waits for the image.`,
    `result = client.images.edit(`,
    `    model=${pyString(ctx.model)},`,
    ...args,
    `)`,
    `result.save("edited.${ext}")`,
    `print("saved edited.${ext}, seed", result.seed)`,
    ``,
    `# Or on the queue: submit, then wait for each generation (follows the event stream).`,
    `generations = client.queue.submit(`,
    ...queueArgs,
    ...args,
    `)`,
    `for generation in generations:`,
    `    done = client.queue.wait(generation)`,
    `    done.save(f"{done.generation_id}.${ext}")`,
    `    print("saved", done.generation_id, "seed", done.seed)`,
  ].join("\n");
}

/** OpenAI's `size`: the form's exact width x height if set, else "auto" (the model sizes
 * the output; its aspect ratio rides along in extra_body). */
export function openaiSize(params) {
  return params && params.width && params.height ? `${params.width}x${params.height}` : "auto";
}

// The form's parameters that OpenAI's own fields stand for.
const OPENAI_MAPPED = new Set([
  "prompt",
  "input_image",
  "output_format",
  "preview",
  "width",
  "height",
  "output_quality",
]);

function pythonOpenai(ctx) {
  const params = ctx.params || {};
  const ext = extension(ctx);
  const refs = [].concat(params.input_image || []);
  // LoRAs (a list of objects) do not fit OpenAI's multipart form: the other snippets carry them.
  const extra = Object.entries(params).filter(([k]) => !OPENAI_MAPPED.has(k) && k !== "loras");
  const args = [
    `    model=${pyString(ctx.model)},`,
    `    image=[(f"input-{i + 1}.png", fetch(ref)) for i, ref in enumerate(INPUTS)],`,
    `    prompt=${pyString(params.prompt || "")},`,
    `    size=${pyString(openaiSize(params))},`,
    `    output_format=${pyString(ext === "jpg" ? "jpeg" : ext)},`,
  ];
  if (params.output_quality !== undefined && ext !== "png") {
    args.push(`    output_compression=${params.output_quality},`);
  }
  if (ctx.numGenerations > 1) args.push(`    n=${ctx.numGenerations},`);
  if (params.preview) args.push(`    quality="low",`);
  if (params.loras && params.loras.length) {
    args.push(`    # loras are not sent here (OpenAI's form has no lists of objects): use /api/ai/queue`);
  }
  if (extra.length) {
    args.push(`    # editserve's own parameters ride along as extra form fields`);
    args.push(`    extra_body={${extra.map(([k, v]) => `${pyString(k)}: ${pyFloatish(k, v)}`).join(", ")}},`);
  }
  return [
    `import base64`,
    `import os`,
    ``,
    `import httpx`,
    `from openai import OpenAI`,
    ``,
    `KEY = os.environ["EDITSERVE_API_KEY"]`,
    `client = OpenAI(base_url=${pyString(ctx.baseUrl + "/v1")}, api_key=KEY)`,
    ``,
    `INPUTS = ${pyLiteral(refs)}`,
    ``,
    ``,
    `def fetch(ref: str) -> bytes:`,
    `    """OpenAI's API takes image files: read each input (data URI or URL) first."""`,
    `    if ref.startswith("data:"):`,
    `        return base64.b64decode(ref.split(",", 1)[1])`,
    `    headers = {"Authorization": f"Bearer {KEY}"}  # upload URLs need the key`,
    `    return httpx.get(ref, headers=headers, follow_redirects=True, timeout=60).content`,
    ``,
    ``,
    `result = client.images.edit(`,
    ...args,
    `)`,
    `for i, image in enumerate(result.data):`,
    `    with open(f"edited-{i + 1}.${ext}", "wb") as out:`,
    `        out.write(base64.b64decode(image.b64_json))`,
    `    print("saved", f"edited-{i + 1}.${ext}")`,
  ].join("\n");
}

function json(ctx) {
  return JSON.stringify(jsonBody(ctx, { queue: true }), null, 2);
}

function extension(ctx) {
  return (ctx.params && ctx.params.output_format) || "png";
}

const BUILDERS = {
  "curl-sync": curlSync,
  "curl-poll": curlPoll,
  "curl-sse": curlSse,
  "python-requests": pythonRequests,
  "python-client": pythonClient,
  "python-openai": pythonOpenai,
  json,
};

/**
 * @param {string} id  one of SNIPPETS[].id
 * @param {{baseUrl: string, model: string, params: object, numGenerations?: number}} ctx
 */
export function buildSnippet(id, ctx) {
  const builder = BUILDERS[id];
  if (!builder) throw new Error(`unknown snippet ${id}`);
  return builder({ numGenerations: 1, ...ctx });
}
