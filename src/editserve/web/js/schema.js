// What the form reads from a model's json_request_schema: the properties in x-order,
// which are picture lists, a number's limits, and the check of one value.

import { fieldLabel } from "./dom.js";

export function orderedProperties(schema) {
  const props = Object.entries(schema?.properties || {});
  return props
    .map(([name, prop], i) => ({ name, prop, order: prop["x-order"] ?? 1000 + i }))
    .sort((a, b) => a.order - b.order);
}

export function isImageArray(prop) {
  return prop.type === "array" && prop.items && prop.items.renderType === "image-url";
}

export function limits(prop) {
  const min = prop.minimum ?? (prop.exclusiveMinimum !== undefined ? prop.exclusiveMinimum + 1 : undefined);
  const max = prop.maximum ?? (prop.exclusiveMaximum !== undefined ? prop.exclusiveMaximum - (prop.type === "integer" ? 1 : Number.EPSILON) : undefined);
  return { min, max };
}

/** Check one value against its schema property. Returns a message or "". */
export function checkValue(name, prop, value, required) {
  const label = fieldLabel(name, prop);
  if (value === undefined || value === null || value === "") {
    return required ? `${label} is required` : "";
  }
  if (prop.type === "string") {
    if (prop.minLength && !String(value).trim()) return `${label} must not be empty`;
    if (prop.maxLength && value.length > prop.maxLength) return `${label} is limited to ${prop.maxLength} characters`;
    if (prop.enum && !prop.enum.includes(value)) return `${label} must be one of ${prop.enum.join(", ")}`;
  }
  if (prop.type === "integer" || prop.type === "number") {
    if (typeof value !== "number" || Number.isNaN(value)) return `${label} must be a number`;
    if (prop.type === "integer" && !Number.isInteger(value)) return `${label} must be a whole number`;
    const { min, max } = limits(prop);
    if (prop.exclusiveMaximum !== undefined && value >= prop.exclusiveMaximum) {
      return `${label} must be below ${prop.exclusiveMaximum}`;
    }
    if (min !== undefined && value < min) return `${label} must be at least ${min}`;
    if (prop.maximum !== undefined && max !== undefined && value > max) return `${label} must be at most ${max}`;
  }
  if (prop.type === "array") {
    if (prop.minItems && value.length < prop.minItems) {
      return prop.minItems === 1 ? `Add at least one image` : `Add at least ${prop.minItems} images`;
    }
    if (prop.maxItems && value.length > prop.maxItems) return `At most ${prop.maxItems} images`;
  }
  return "";
}
