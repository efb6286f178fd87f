"""OpenAPI documentation the routes cannot derive themselves.

The queue and edit routes parse their body by hand (the model's parameters depend on the
``model`` field), so their request body is documented here: the envelope plus the
default model's parameters. Errors share one envelope, documented once for every route.
"""

from __future__ import annotations

from typing import Any

from editserve.models.registry import ModelRegistry
from editserve.services.generations.requests import (
    EditEnvelope,
    Envelope,
    GenerateEnvelope,
    QueueEnvelope,
)
from editserve.services.wire import ErrorEnvelope

# The envelope models that validate the two bodies document them too.
_ENVELOPES: dict[str, type[Envelope]] = {
    "QueueRequest": QueueEnvelope,
    "EditRequest": EditEnvelope,
    "GenerateRequest": GenerateEnvelope,
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": description}
    for status, description in (
        (400, "Invalid parameters: the detail names the field and the rule"),
        (401, "Missing, invalid or revoked API key"),
        (404, "Not found"),
        (
            429,
            "Too many active generations, requests or event streams for this key (see Retry-After)",
        ),
        (
            503,
            "The node is busy (job store, input memory) or its store is unreachable "
            "(see Retry-After)",
        ),
    )
}


def request_body_doc(name: str, registry: ModelRegistry) -> dict[str, Any]:
    """An OpenAPI requestBody: the envelope plus the parameters of the first served model
    of the call's kind (the default model where none is)."""
    envelope_type = _ENVELOPES[name]
    spec = next(
        (spec for spec in registry.all() if spec.kind == envelope_type.kind), registry.default
    )
    params = spec.request_schema()
    envelope = envelope_type.model_json_schema()["properties"]
    envelope["model"] = {**envelope["model"], "example": spec.id}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "title": name,
                        "type": "object",
                        "required": ["model", *params.get("required", [])],
                        "properties": {**envelope, **params["properties"]},
                        "description": "The envelope fields plus the model's parameters; "
                        "GET /api/ai/models/{id} serves each model's own schema.",
                    }
                }
            },
        }
    }


BODY_MARKER = "x-editserve-body"


def body_doc(name: str) -> dict[str, Any]:
    """Mark a route whose body is documented from the registry (see install_openapi)."""
    return {BODY_MARKER: name}


def install_openapi(app: Any, registry: ModelRegistry) -> None:
    """Build /openapi.json once, filling in the marked request bodies."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema  # type: ignore[no-any-return]
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                name = operation.pop(BODY_MARKER, None)
                if name is not None:
                    operation.update(request_body_doc(name, registry))
                # A request that fails validation is a 400 in the one envelope (documented
                # above), never FastAPI's 422.
                operation.get("responses", {}).pop("422", None)
        for unused in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
