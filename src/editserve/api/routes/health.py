"""/healthz (the process answers) and /readyz (a worker has the model loaded)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from editserve.api.services import services
from editserve.readiness import model_readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    svc = services(request)
    models = {}
    for spec in svc.registry.all():
        models[spec.id] = await run_in_threadpool(model_readiness, svc.store, spec.id)
    ready = any(m["readiness"] == "ready" for m in models.values())
    body: dict[str, Any] = {"status": "ready" if ready else "not_ready", "models": models}
    warnings = [m["warning"] for m in models.values() if m.get("warning")]
    if warnings:
        body["warning"] = warnings[0]
    return JSONResponse(body, status_code=200 if ready else 503)
