"""/healthz (the process answers) and /readyz (a worker has the model loaded)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

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
    ready = await services(request).models.ready()
    status_code = 200 if ready.status == "ready" else 503
    return JSONResponse(ready.model_dump(mode="json"), status_code=status_code)
