"""GET /api/ai/generations(/{id}): the caller's paginated history."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from editserve.api.auth import require_key
from editserve.api.openapi import ERROR_RESPONSES
from editserve.api.services import services, url_builder
from editserve.protocol import GenerationResponse, HistoryPage

router = APIRouter(tags=["generations"], responses=ERROR_RESPONSES)


@router.get("/api/ai/generations")
async def history(
    request: Request,
    owner: str = Depends(require_key),
    page: int = Query(default=1, ge=1),
    page_size: int = Query(default=50, ge=1, le=1000),
    status: str | None = Query(default=None),
    model: str | None = Query(default=None),
    media_type: str | None = Query(default=None),
) -> HistoryPage:
    """All of the caller's generations, newest first."""
    return await services(request).generations.history(
        owner,
        url_builder(request),
        page=page,
        page_size=page_size,
        status=status,
        model=model,
        media_type=media_type,
    )


@router.get("/api/ai/generations/{generation_id}")
async def one(
    request: Request, generation_id: str, owner: str = Depends(require_key)
) -> GenerationResponse:
    return await services(request).generations.get_found(owner, generation_id, url_builder(request))
