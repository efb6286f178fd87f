// What the workbench reads from the served models' cards: a model's kind ("edit": a prompt
// and 1-3 pictures; "generate": a prompt alone), its request schema (for a run of another
// model than the picked one), and which of the form's values carry over to another model.

import { checkValue, isImageArray } from "./schema.js";

/** "generate" for a text-to-image model (card endpoint /images/generate, or no image
 * input in its capabilities), else "edit". */
export function modelKind(card) {
  if (!card) return "edit";
  if (card.endpoint) return card.endpoint === "/images/generate" ? "generate" : "edit";
  const input = card.capabilities?.input;
  return Array.isArray(input) && !input.includes("image") ? "generate" : "edit";
}

/** The request schema of a served model (from the models list), or null. */
export function schemaOf(models, id) {
  const card = models.find((m) => m.id === id || (m.aliases || []).includes(id));
  return card ? card.json_request_schema || card.request_schema || null : null;
}

/** The name of the schema's picture list (input_image), or null: a form without one
 * (a text-to-image model) has no picture picker. */
export function imageProperty(schema) {
  const entry = Object.entries(schema?.properties || {}).find(([, prop]) => isImageArray(prop));
  return entry ? entry[0] : null;
}

/** The served model a run of `id` should be shown and restored with (aliases resolved). */
export function servedModel(models, id) {
  return models.find((m) => m.id === id || (m.aliases || []).includes(id)) || null;
}

/** The edit model to switch to from a text-to-image one: the last one used, else the first. */
export function editModelFor(models) {
  const edits = models.filter((m) => modelKind(m) === "edit");
  const last = localStorage.getItem("editserve.editModel");
  return edits.find((m) => m.id === last) || edits[0] || null;
}

// Always carried when the other model has them: what the user wrote or locked.
const ALWAYS = new Set(["prompt", "negative_prompt", "seed"]);

/**
 * The form's values kept when switching from the schema `from` to `to`: the prompt,
 * negative prompt and a locked seed, and every other shared parameter the user changed
 * from `from`'s default, where `to` accepts it. Defaults follow the new model (an edit
 * model's 40 steps are not a text-to-image model's 30). Pictures are handled apart, and
 * LoRAs (made for one kind of model) stay with models of the same kind.
 */
export function carriedValues(values, from, to) {
  const kept = {};
  const pictures = imageProperty(from);
  const sameKind = !pictures === !imageProperty(to);
  for (const [name, value] of Object.entries(values)) {
    const prop = to?.properties?.[name];
    if (!prop || name === pictures || isImageArray(prop)) continue;
    if (prop.renderType === "loras" && !sameKind) continue;
    const changed = ALWAYS.has(name) || JSON.stringify(value) !== JSON.stringify(from?.properties?.[name]?.default);
    if (!changed) continue;
    if (prop.enum && !prop.enum.includes(value)) continue;
    if (checkValue(name, prop, value, false)) continue;
    kept[name] = value;
  }
  return kept;
}
