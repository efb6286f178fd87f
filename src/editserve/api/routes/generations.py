"""GET /api/ai/generations(/{id}): the caller's paginated history."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from editserve.api.auth import require_key
from editserve.api.routes.queue import check_media_type, parse_statuses, render
from editserve.api.services import services

router = APIRouter(tags=["generations"])


@router.get("/api/ai/generations")
async def history(
    request: Request,
    owner: str = Depends(require_key),
    page: int = Query(default=1, ge=1),
    page_size: int = Query(default=50, ge=1, le=1000),
    status: str | None = Query(default=None),
    model: str | None = Query(default=None),
    media_type: str | None = Query(default=None),
) -> dict[str, Any]:
    """All of the caller's generations, newest first."""
    check_media_type(media_type)
    svc = services(request)
    statuses = parse_statuses(status)
    model_id = svc.registry.get(model).id if model else None
    gens, total = await run_in_threadpool(
        lambda: svc.store.list_generations(
            owner,
            statuses=statuses,
            model=model_id,
            limit=page_size,
            offset=(page - 1) * page_size,
        )
    )
    return {
        "count": len(gens),
        "generations": await render(request, gens),
        "page_number": page,
        "page_size": page_size,
        "total_entries": total,
        "total_pages": math.ceil(total / page_size) if total else 0,
    }


@router.get("/api/ai/generations/{generation_id}")
async def one(
    request: Request, generation_id: str, owner: str = Depends(require_key)
) -> dict[str, Any]:
    gen = await run_in_threadpool(services(request).generations.get, owner, generation_id)
    return {
        "generation": (await render(request, [gen]))[0],
        "status": "success",
        "status_message": "resource_found",
    }
