// The API tab's Python: requests on the queue, editserve's own client (images.edit or
// images.generate, then the queue) and the official OpenAI SDK (/v1/images/edits with
// the pictures as files, or /v1/images/generations with a prompt alone).

import { enqueueNote, extension, jsonBody, pyFloatish, pyLiteral, pyString } from "./snippet_base.js";

export function pythonRequests(ctx) {
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
    `# Enqueue; the server ${enqueueNote(ctx)} (400 names the field).`,
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

export function pythonClient(ctx) {
  const ext = extension(ctx);
  const args = Object.entries(ctx.params).map(([k, v]) => `    ${k}=${pyFloatish(k, v)},`);
  const sync = ctx.kind === "generate" ? generateCall(ctx, args, ext) : editCall(ctx, args, ext);
  return [
    `import os`,
    ``,
    `from editserve import Client`,
    ``,
    `client = Client(base_url=${pyString(ctx.baseUrl)}, api_key=os.environ["EDITSERVE_API_KEY"])`,
    ``,
    ...sync,
    ``,
    ...queueCalls(ctx, args, ext),
  ].join("\n");
}

function editCall(ctx, args, ext) {
  return [
    `# Synchronous: waits for the image.`,
    `result = client.images.edit(`,
    `    model=${pyString(ctx.model)},`,
    ...args,
    `)`,
    `result.save("edited.${ext}")`,
    `print("saved edited.${ext}, seed", result.seed)`,
  ];
}

function generateCall(ctx, args, ext) {
  const count = ctx.numGenerations > 1 ? [`    num_generations=${ctx.numGenerations},`] : [];
  return [
    `# Synchronous: waits for the picture${ctx.numGenerations > 1 ? "s" : ""}.`,
    `result = client.images.generate(`,
    `    model=${pyString(ctx.model)},`,
    ...args,
    ...count,
    `)`,
    `for i, image in enumerate(result.images, 1):`,
    `    image.save(f"generated-{i}.${ext}")`,
    `    print(f"saved generated-{i}.${ext}, seed", image.seed)`,
  ];
}

function queueCalls(ctx, args, ext) {
  const queueArgs = [`    model=${pyString(ctx.model)},`];
  if (ctx.numGenerations > 1) queueArgs.push(`    num_generations=${ctx.numGenerations},`);
  return [
    `# Or on the queue: submit, then wait for each generation (follows the event stream).`,
    `generations = client.queue.submit(`,
    ...queueArgs,
    ...args,
    `)`,
    `for generation in generations:`,
    `    done = client.queue.wait(generation)`,
    `    done.save(f"{done.generation_id}.${ext}")`,
    `    print("saved", done.generation_id, "seed", done.seed)`,
  ];
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

/** OpenAI's own arguments: model, (the files,) prompt, size, format, compression, n and
 * quality (low: editserve's preview). */
function openaiArgs(ctx, params, ext, files = null) {
  const args = [`    model=${pyString(ctx.model)},`];
  if (files) args.push(files);
  args.push(
    `    prompt=${pyString(params.prompt || "")},`,
    `    size=${pyString(openaiSize(params))},`,
    `    output_format=${pyString(ext === "jpg" ? "jpeg" : ext)},`,
  );
  if (params.output_quality !== undefined && ext !== "png") {
    args.push(`    output_compression=${params.output_quality},`);
  }
  if (ctx.numGenerations > 1) args.push(`    n=${ctx.numGenerations},`);
  if (params.preview) args.push(`    quality="low",`);
  return args;
}

export function pythonOpenai(ctx) {
  if (ctx.kind === "generate") return pythonOpenaiGenerate(ctx);
  const params = ctx.params || {};
  const ext = extension(ctx);
  const refs = [].concat(params.input_image || []);
  // LoRAs (a list of objects) do not fit OpenAI's multipart form: the other snippets carry them.
  // A mask goes as OpenAI's own `mask` file (read by the same rule as the `mask` field).
  const extra = Object.entries(params).filter(([k]) => !OPENAI_MAPPED.has(k) && k !== "loras" && k !== "mask" && k !== "control");
  let files = `    image=[(f"input-{i + 1}.png", fetch(ref)) for i, ref in enumerate(INPUTS)],`;
  if (params.mask) files += `\n    mask=("mask.png", fetch(MASK)),`;
  const args = openaiArgs(ctx, params, ext, files);
  if (params.loras && params.loras.length) {
    args.push(`    # loras are not sent here (OpenAI's form has no lists of objects): use /api/ai/queue`);
  }
  if (params.control) args.push(`    # control is not sent here (OpenAI's form has no objects): use /api/ai/queue`);
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
    ...(params.mask ? [`MASK = ${pyString(params.mask)}`] : []),
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

/** OpenAI's generate call: a JSON body, so every parameter of the model (LoRAs too) can
 * ride in extra_body. */
function pythonOpenaiGenerate(ctx) {
  const params = ctx.params || {};
  const ext = extension(ctx);
  const extra = Object.entries(params).filter(([k]) => !OPENAI_MAPPED.has(k));
  const args = openaiArgs(ctx, params, ext);
  if (extra.length) {
    args.push(`    # editserve's own parameters ride along in the JSON body`);
    args.push(`    extra_body={`, ...extra.map(([k, v]) => `        ${pyString(k)}: ${pyFloatish(k, v, 2)},`), `    },`);
  }
  return [
    `import base64`,
    `import os`,
    ``,
    `from openai import OpenAI`,
    ``,
    `client = OpenAI(base_url=${pyString(ctx.baseUrl + "/v1")}, api_key=os.environ["EDITSERVE_API_KEY"])`,
    ``,
    `result = client.images.generate(`,
    ...args,
    `)`,
    `for i, image in enumerate(result.data):`,
    `    with open(f"generated-{i + 1}.${ext}", "wb") as out:`,
    `        out.write(base64.b64decode(image.b64_json))`,
    `    print("saved", f"generated-{i + 1}.${ext}")`,
  ].join("\n");
}
