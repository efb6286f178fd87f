"""POST /api/ai/images/edit: the synchronous edit (a queued generation the call waits for)."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from editserve.api.auth import require_key
from editserve.api.body import json_body
from editserve.api.openapi import request_body_doc
from editserve.api.routes.queue import submit
from editserve.api.services import services, url_builder
from editserve.errors import GatewayTimeout, GenerationCancelledError, GenerationFailed
from editserve.generations.record import Generation, Status
from editserve.generations.service import EditEnvelope

router = APIRouter(tags=["edit"])

POLL_SECONDS = 0.2


async def wait_until_done(request: Request, gen: Generation, timeout: float) -> Generation:
    svc = services(request)
    deadline = time.monotonic() + timeout
    while True:
        current = await run_in_threadpool(svc.store.get_generation, gen.id)
        assert current is not None
        if current.status.is_terminal:
            return current
        if time.monotonic() >= deadline:
            raise GatewayTimeout(
                f"generation {gen.id} is still {current.status.value} after {timeout:g} s; "
                f"poll GET /api/ai/queue/{gen.id} for the result",
                extra={"generation_id": gen.id, "generation_status": current.status.value},
            )
        await asyncio.sleep(POLL_SECONDS)


@router.post("/api/ai/images/edit", openapi_extra=request_body_doc("EditRequest"))
async def edit(
    request: Request,
    owner: str = Depends(require_key),
    idempotency_key: str | None = Header(default=None),
) -> dict[str, Any]:
    """Edit 1-3 images and wait for the result."""
    body = await json_body(request)
    response_format = body.get("response_format", "url") if isinstance(body, dict) else "url"
    svc = services(request)
    [gen] = await submit(request, owner, body, EditEnvelope, idempotency_key)
    done = await wait_until_done(request, gen, svc.settings.sync_timeout_seconds)
    extra = {"generation_id": done.id}
    if done.status is Status.FAILED:
        raise GenerationFailed(f"generation {done.id} failed: {done.error_message}", extra=extra)
    if done.status is Status.CANCELLED:
        raise GenerationCancelledError(f"generation {done.id} was cancelled", extra=extra)
    assert done.result_key is not None
    if response_format == "b64_json":
        data = await run_in_threadpool(svc.storage.get, done.result_key)
        image: dict[str, Any] = {"b64_json": base64.b64encode(data).decode()}
    else:
        image = {"url": url_builder(request)(done.result_key)}
    return {
        "model": done.model,
        "created": int(done.completed_at or time.time()),
        "images": [image],
        "generation_id": done.id,
        "seed": done.seed,
        "width": done.width,
        "height": done.height,
        "timings": done.timings,
    }
