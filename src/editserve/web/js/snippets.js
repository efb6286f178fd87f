// The API tab's code: for the current parameters, the exact calls as cURL (sync, async
// with polling, async with SSE), Python (snippets_py.js) and the JSON body. Pure
// functions of ({baseUrl, model, kind, params, numGenerations}) so the page and the tests
// agree; `kind` "generate" (a text-to-image model) gives its calls: the generate call,
// the queue without pictures, OpenAI's /v1/images/generations.
//
// Every snippet reads the key from $EDITSERVE_API_KEY; the real key is never printed.

import { enqueueNote, extension, indentJson, jsonBody, shellQuote, syncPath } from "./snippet_base.js";
import { pythonClient, pythonOpenai, pythonRequests } from "./snippets_py.js";

export { shellQuote, pyLiteral, pyString } from "./snippet_base.js";
export { openaiSize } from "./snippets_py.js";

export const SNIPPETS = [
  { id: "curl-sync", label: "cURL", sub: "sync", lang: "bash" },
  { id: "curl-poll", label: "cURL", sub: "async · polling", lang: "bash" },
  { id: "curl-sse", label: "cURL", sub: "async · SSE", lang: "bash" },
  { id: "python-requests", label: "Python", sub: "requests", lang: "python" },
  { id: "python-client", label: "Python", sub: "editserve client", lang: "python" },
  { id: "python-openai", label: "Python", sub: "OpenAI SDK", lang: "python" },
  { id: "json", label: "JSON", sub: "request body", lang: "json" },
];

function curlSync(ctx) {
  const body = jsonBody(ctx, { queue: false });
  return [
    `curl -sS -X POST ${ctx.baseUrl}${syncPath(ctx)} \\`,
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
    `# 1. Enqueue (the server ${enqueueNote(ctx)}, or answers 400)`,
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
  delete body.num_generations; // one generation to wait for
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

function json(ctx) {
  return JSON.stringify(jsonBody(ctx, { queue: true }), null, 2);
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
 * @param {{baseUrl: string, model: string, kind?: "edit"|"generate", params: object, numGenerations?: number}} ctx
 */
export function buildSnippet(id, ctx) {
  const builder = BUILDERS[id];
  if (!builder) throw new Error(`unknown snippet ${id}`);
  return builder({ numGenerations: 1, kind: "edit", ...ctx });
}
