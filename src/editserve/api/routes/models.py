"""GET /api/ai/models(/search, /{id}): model cards with their request schema and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from editserve.api.auth import require_key
from editserve.api.context import services
from editserve.api.openapi import ERROR_RESPONSES
from editserve.services.wire import ModelCard, ModelList

router = APIRouter(tags=["models"], responses=ERROR_RESPONSES)


@router.get("/api/ai/models")
async def list_models(request: Request, owner: str = Depends(require_key)) -> ModelList:
    return await services(request).models.list()


# Declared before /{model_id:path}, which would otherwise take "search" for a model id.
@router.get("/api/ai/models/search")
async def search_models(
    request: Request,
    owner: str = Depends(require_key),
    search: str | None = Query(
        default=None, description="Text to look for in model ids, names and developers."
    ),
    q: str | None = Query(default=None, description="Same as search."),
) -> ModelList:
    """Models whose id, alias, display name or developer contains the text (any case);
    every model when none is given. The hosted API's parameter is `search`."""
    return await services(request).models.search(search if search is not None else q)


@router.get("/api/ai/models/{model_id:path}")
async def get_model(
    request: Request, model_id: str, owner: str = Depends(require_key)
) -> ModelCard:
    return await services(request).models.one(model_id)
