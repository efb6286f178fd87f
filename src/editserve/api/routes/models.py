"""GET /api/ai/models(/{id}): model cards with their request schema and what is loaded."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from editserve.api.auth import require_key
from editserve.api.services import services
from editserve.config import Settings
from editserve.models.registry import ModelSpec
from editserve.readiness import model_readiness

router = APIRouter(tags=["models"])


def model_view(spec: ModelSpec, settings: Settings, readiness: dict[str, Any]) -> dict[str, Any]:
    schema = spec.schema_for(settings)
    return {
        **spec.card,
        "aliases": list(spec.aliases),
        "json_request_schema": schema,
        "request_schema": schema,
        **readiness,
    }


@router.get("/api/ai/models")
async def list_models(request: Request, owner: str = Depends(require_key)) -> dict[str, Any]:
    svc = services(request)
    views = []
    for spec in svc.registry.all():
        readiness = await run_in_threadpool(model_readiness, svc.store, spec.id)
        views.append(model_view(spec, svc.settings, readiness))
    return {"object": "list", "data": views}


@router.get("/api/ai/models/{model_id:path}")
async def get_model(
    request: Request, model_id: str, owner: str = Depends(require_key)
) -> dict[str, Any]:
    svc = services(request)
    spec = svc.registry.get(model_id)
    readiness = await run_in_threadpool(model_readiness, svc.store, spec.id)
    return model_view(spec, svc.settings, readiness)
