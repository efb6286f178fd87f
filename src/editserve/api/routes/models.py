"""GET /api/ai/models(/{id}): model cards with their request schema and what is loaded."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from editserve.api.auth import require_key
from editserve.api.openapi import ERROR_RESPONSES
from editserve.api.services import services
from editserve.protocol import ModelCard, ModelList

router = APIRouter(tags=["models"], responses=ERROR_RESPONSES)


@router.get("/api/ai/models")
async def list_models(request: Request, owner: str = Depends(require_key)) -> ModelList:
    return await services(request).models.list()


@router.get("/api/ai/models/{model_id:path}")
async def get_model(
    request: Request, model_id: str, owner: str = Depends(require_key)
) -> ModelCard:
    return await services(request).models.one(model_id)
