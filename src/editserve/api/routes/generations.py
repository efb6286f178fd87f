"""GET /api/ai/generations(/{id}): the caller's paginated history."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from editserve.api.auth import require_key
from editserve.api.context import services, url_builder
from editserve.api.openapi import ERROR_RESPONSES
from editserve.api.query import MEDIA_TYPE_QUERY, MODEL_QUERY, STATUS_QUERY, only_declared_query
from editserve.services.generations.lineage import LineageView
from editserve.services.wire import GenerationResponse, HistoryPage

router = APIRouter(tags=["generations"], responses=ERROR_RESPONSES)

# Beyond this page number the offset would not fit the database's integers.
MAX_PAGE = 1_000_000


@router.get("/api/ai/generations", dependencies=[Depends(only_declared_query)])
async def history(
    request: Request,
    owner: str = Depends(require_key),
    page: int = Query(default=1, ge=1, le=MAX_PAGE),
    page_size: int = Query(default=50, ge=1, le=1000),
    status: str | None = STATUS_QUERY,
    model: str | None = MODEL_QUERY,
    media_type: str | None = MEDIA_TYPE_QUERY,
) -> HistoryPage:
    """All of the caller's generations, newest first. Any other query parameter is a 400
    naming it (the hosted API's namespace, repo and folder included)."""
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


@router.get("/api/ai/generations/{generation_id}/lineage")
async def lineage(
    request: Request, generation_id: str, owner: str = Depends(require_key)
) -> LineageView:
    """The edit tree around a generation: what it was made from (inputs that were our own
    result links), and what was made from it; pruned generations keep their place."""
    return await services(request).generations.lineage(owner, generation_id, url_builder(request))
