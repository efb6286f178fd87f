"""GET /metrics: Prometheus metrics read from the store at scrape time (no auth needed).

Every number is public; the worker and host labels need a valid key (Prometheus's
``authorization`` scrape setting) or EDITSERVE_PUBLIC_DETAILS, else those series are
summed over workers and hosts.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from editserve.api.auth import shows_details
from editserve.api.context import services
from editserve.services.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    text = await services(request).metrics.render(details=await shows_details(request))
    return Response(text, media_type=CONTENT_TYPE)
