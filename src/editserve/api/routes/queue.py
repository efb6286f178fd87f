"""POST/GET /api/ai/queue, GET/DELETE /api/ai/queue/{id}: the async queue."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Request

from editserve.api.auth import require_key
from editserve.api.body import json_body
from editserve.api.context import own_base_urls, services, url_builder
from editserve.api.openapi import ERROR_RESPONSES, body_doc
from editserve.api.query import MEDIA_TYPE_QUERY, MODEL_QUERY, STATUS_QUERY, only_declared_query
from editserve.services.generations.requests import checked_idempotency_key
from editserve.services.wire import (
    CancelResponse,
    EnqueueResponse,
    ErrorEnvelope,
    GenerationView,
    QueueList,
)

router = APIRouter(tags=["queue"], responses=ERROR_RESPONSES)


@router.post(
    "/api/ai/queue",
    openapi_extra=body_doc("QueueRequest"),
    responses={409: {"model": ErrorEnvelope, "description": "Idempotency-Key reused"}},
)
async def enqueue(
    request: Request,
    owner: str = Depends(require_key),
    idempotency_key: str | None = Header(default=None),
) -> EnqueueResponse:
    """Enqueue 1-4 generations; inputs are fetched and validated now."""
    return await services(request).generations.enqueue(
        owner,
        await json_body(request),
        idempotency_key=checked_idempotency_key(idempotency_key),
        base_urls=own_base_urls(request),
    )


@router.get("/api/ai/queue", dependencies=[Depends(only_declared_query)])
async def list_queue(
    request: Request,
    owner: str = Depends(require_key),
    status: str | None = STATUS_QUERY,
    model: str | None = MODEL_QUERY,
    media_type: str | None = MEDIA_TYPE_QUERY,
) -> QueueList:
    """The caller's active generations (or those of the given status). Any other query
    parameter is a 400 naming it (the hosted API's namespace, repo and folder included)."""
    return await services(request).generations.list_active(
        owner, url_builder(request), status=status, model=model, media_type=media_type
    )


@router.get("/api/ai/queue/{generation_id}")
async def get_generation(
    request: Request, generation_id: str, owner: str = Depends(require_key)
) -> GenerationView:
    """One generation, with progress, queue position and the seed used."""
    return await services(request).generations.get(owner, generation_id, url_builder(request))


@router.delete("/api/ai/queue/{generation_id}")
async def cancel_generation(
    request: Request, generation_id: str, owner: str = Depends(require_key)
) -> CancelResponse:
    """Cancel: queued stops at once, processing at the next denoising step."""
    return await services(request).generations.cancel(owner, generation_id)
