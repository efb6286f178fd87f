"""POST /api/ai/images/edit and /api/ai/images/generate: the calls that wait for their
pictures (queued generations like any other); POST /api/ai/images/control-map, one control
map computed by a worker (services/control_map.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Request

from editserve.api.auth import require_key
from editserve.api.body import json_body
from editserve.api.context import own_base_urls, services, url_builder
from editserve.api.openapi import ERROR_RESPONSES, body_doc
from editserve.services.control_map import ControlMaps
from editserve.services.control_wire import CONTROL_MAP_REQUEST_SCHEMA, ControlMapResponse
from editserve.services.generations.requests import checked_idempotency_key
from editserve.services.wire import EditResponse, ErrorEnvelope, GenerateResponse

router = APIRouter(tags=["images"], responses=ERROR_RESPONSES)

_SYNC_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorEnvelope, "description": "The generation was cancelled meanwhile"},
    500: {"model": ErrorEnvelope, "description": "The generation failed"},
    504: {"model": ErrorEnvelope, "description": "Still running: poll its generation_id"},
}


@router.post("/api/ai/images/edit", openapi_extra=body_doc("EditRequest"), responses=_SYNC_ERRORS)
async def edit(
    request: Request,
    owner: str = Depends(require_key),
    idempotency_key: str | None = Header(default=None),
) -> EditResponse:
    """Edit 1-3 images and wait for the result."""
    return await services(request).sync.edit(
        owner,
        await json_body(request),
        idempotency_key=checked_idempotency_key(idempotency_key),
        base_urls=own_base_urls(request),
        url_for=url_builder(request),
    )


@router.post(
    "/api/ai/images/generate", openapi_extra=body_doc("GenerateRequest"), responses=_SYNC_ERRORS
)
async def generate(
    request: Request,
    owner: str = Depends(require_key),
    idempotency_key: str | None = Header(default=None),
) -> GenerateResponse:
    """Make 1-4 pictures from a prompt (a text-to-image model) and wait for them."""
    return await services(request).sync.generate(
        owner,
        await json_body(request),
        idempotency_key=checked_idempotency_key(idempotency_key),
        base_urls=own_base_urls(request),
        url_for=url_builder(request),
    )


@router.post(
    "/api/ai/images/control-map",
    responses=_SYNC_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CONTROL_MAP_REQUEST_SCHEMA}},
        }
    },
)
async def control_map(request: Request, owner: str = Depends(require_key)) -> ControlMapResponse:
    """Compute one control map on a worker (an extension): `{"type", "image", ...options,
    "model"?}`; a map stored already (same picture and settings) is answered at once."""
    own = services(request)
    return await ControlMaps(own.generations, own.storage).compute(
        owner,
        await json_body(request),
        base_urls=own_base_urls(request),
        url_for=url_builder(request),
    )
