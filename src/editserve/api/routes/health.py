"""/healthz (the process answers) and /readyz (a worker has the model loaded).

Both are open to all. /readyz shows a caller without a key the state, the counts and the
stage figures only; folders, library versions, failure reasons and worker ids (host names)
need a valid key or EDITSERVE_PUBLIC_DETAILS. /healthz is a constant answer.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from editserve.api.auth import shows_details
from editserve.api.context import services
from editserve.services.wire import Health, ReadyResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    response_model=ReadyResponse,
    responses={503: {"model": ReadyResponse, "description": "No model is ready"}},
)
async def readyz(request: Request) -> JSONResponse:
    ready = await services(request).models.ready(details=await shows_details(request))
    status_code = 200 if ready.status == "ready" else 503
    return JSONResponse(ready.model_dump(mode="json"), status_code=status_code)
