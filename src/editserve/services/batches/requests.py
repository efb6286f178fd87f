"""Reading a batch submission: a JSON object, or JSON Lines.

    {"requests": [{"custom_id": "sku-1", "model": "...", "prompt": "...",
                   "input_image": [...]}, ...],
     "priority": -10, "webhook": "https://...", "metadata": {...}}
    {"template": {"model": "...", "prompt": "...", ...}, "images": ["<url>", ...], ...}
    one request object per line (Content-Type application/jsonl or application/x-ndjson;
    the batch's own options then come as query parameters)

Each item is an ordinary queue request (one generation: ``num_generations`` 1), with an
optional ``custom_id`` (echoed in the manifest; unique within the batch). A template's
items are the template with ``input_image`` = [image] each, their custom_id the image's
index. Webhooks are the batch's, not the items'.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from editserve.core.errors import InvalidParams

MAX_ITEMS = 10_000
MAX_CUSTOM_ID = 256
BATCH_PRIORITY = -10  # below every interactive request (default 0)
PRIORITY_RANGE = (-100, 0)
BATCH_FIELDS = {"requests", "template", "images", "priority", "webhook", "metadata"}
JSONL_TYPES = ("application/jsonl", "application/x-ndjson", "application/json-lines")


@dataclass(frozen=True)
class BatchSubmission:
    items: list[dict[str, Any]]
    custom_ids: list[str | None]
    priority: int = BATCH_PRIORITY
    webhook: str | None = None
    metadata: dict[str, Any] | None = None
    hashed: dict[str, Any] = field(default_factory=dict)  # what the request hash is of


def parse_submission(raw: bytes, content_type: str, query: dict[str, str]) -> BatchSubmission:
    """The submission's items and options, or InvalidParams naming the field and rule."""
    media = content_type.split(";")[0].strip().lower()
    if media in JSONL_TYPES:
        body: dict[str, Any] = {"requests": _jsonl(raw)}
        if "webhook" in query:
            body["webhook"] = query["webhook"]
        if "priority" in query:  # a number if it reads as one; _priority words the rest
            text = query["priority"]
            body["priority"] = int(text) if text.lstrip("-").isdigit() else text
    else:
        try:
            parsed = json.loads(raw) if raw.strip() else None
        except RecursionError:
            raise InvalidParams("body: JSON nested too deeply") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidParams(f"body: malformed JSON ({exc})") from None
        if not isinstance(parsed, dict):
            raise InvalidParams("body: a JSON object with requests (or template and images)")
        body = parsed
    unknown = sorted(set(body) - BATCH_FIELDS)
    if unknown:
        raise InvalidParams(f"{unknown[0]}: unknown field of a batch (its items go in requests)")
    items = _items(body)
    if not items:
        raise InvalidParams("requests: at least one request")
    if len(items) > MAX_ITEMS:
        raise InvalidParams(f"requests: at most {MAX_ITEMS} requests in a batch (got {len(items)})")
    custom_ids = _custom_ids(items)
    return BatchSubmission(
        items=items, custom_ids=custom_ids, priority=_priority(body.get("priority")),
        webhook=_webhook(body.get("webhook")), metadata=_metadata(body.get("metadata")),
        hashed=body,
    )  # fmt: skip


def _jsonl(raw: bytes) -> list[Any]:
    items = []
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except RecursionError:
            raise InvalidParams(f"body: line {number}: JSON nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise InvalidParams(f"body: line {number}: malformed JSON ({exc.msg})") from None
    return items


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    if "template" in body or "images" in body:
        if "requests" in body:
            raise InvalidParams("requests: give requests, or template and images, not both")
        template, images = body.get("template"), body.get("images")
        if not isinstance(template, dict):
            raise InvalidParams("template: a request object (model, prompt, parameters)")
        if not isinstance(images, list) or not images:
            raise InvalidParams("images: a non-empty list of image references")
        if "input_image" in template:
            raise InvalidParams("template.input_image: the images list gives each item's")
        return [
            {**template, "input_image": [image], "custom_id": template.get("custom_id") or str(n)}
            for n, image in enumerate(images)
        ]
    requests = body.get("requests")
    if not isinstance(requests, list):
        raise InvalidParams("requests: a list of request objects")
    for index, item in enumerate(requests):
        if not isinstance(item, dict):
            raise InvalidParams(f"requests[{index}]: must be a JSON object")
    return requests


def _custom_ids(items: list[dict[str, Any]]) -> list[str | None]:
    seen: dict[str, int] = {}
    ids: list[str | None] = []
    for index, item in enumerate(items):
        value = item.get("custom_id")
        if value is not None:
            if not isinstance(value, str) or not 1 <= len(value) <= MAX_CUSTOM_ID:
                raise InvalidParams(
                    f"requests[{index}].custom_id: a string of 1-{MAX_CUSTOM_ID} characters"
                )
            if value in seen:
                raise InvalidParams(
                    f"requests[{index}].custom_id: {value!r} is also requests[{seen[value]}]'s; "
                    "custom ids are unique within a batch"
                )
            seen[value] = index
        ids.append(value)
    return ids


def _priority(value: Any) -> int:
    if value is None:
        return BATCH_PRIORITY
    low, high = PRIORITY_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParams(
            f"priority: an integer from {low} to {high} (interactive requests run at 0)"
        )
    return value


def _webhook(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidParams("webhook: a URL string")


def _metadata(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(json.dumps(value)) > 16_384:
        raise InvalidParams("metadata: a JSON object of at most 16 KB")
    return value


__all__ = ["BatchSubmission", "MAX_ITEMS", "parse_submission"]
