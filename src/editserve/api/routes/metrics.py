"""GET /metrics: Prometheus metrics read from the store at scrape time (no auth)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from editserve.api.context import services
from editserve.services.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(await services(request).metrics.render(), media_type=CONTENT_TYPE)
