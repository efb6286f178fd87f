"""OpenAPI request-body documentation for routes that parse their body by hand."""

from __future__ import annotations

from typing import Any

_ENVELOPES: dict[str, dict[str, Any]] = {
    "QueueRequest": {
        "model": {"type": "string", "example": "qwen-image-edit-plus"},
        "num_generations": {"type": "integer", "minimum": 1, "maximum": 4, "default": 1},
        "target_namespace": {"type": "string"},
    },
    "EditRequest": {
        "model": {"type": "string", "example": "qwen-image-edit-plus"},
        "response_format": {"type": "string", "enum": ["url", "b64_json"], "default": "url"},
        "target_namespace": {"type": "string"},
    },
}


def request_body_doc(name: str) -> dict[str, Any]:
    """An OpenAPI requestBody: the envelope plus the model's parameters (see /api/ai/models)."""
    from editserve.models.qwen_edit_plus.schema import request_schema

    params = request_schema()
    properties = {**_ENVELOPES[name], **params["properties"]}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "title": name,
                        "type": "object",
                        "required": ["model", *params.get("required", [])],
                        "properties": properties,
                        "description": "The envelope fields plus the model's parameters; "
                        "GET /api/ai/models/{id} serves each model's own schema.",
                    }
                }
            },
        }
    }
