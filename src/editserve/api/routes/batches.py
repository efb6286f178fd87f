"""/api/ai/batches: submit up to 10,000 requests as one batch; read, list, cancel it; its
manifest (JSON Lines) and a zip of its outputs."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from editserve.api.auth import require_key
from editserve.api.context import own_base_urls, services, url_builder
from editserve.api.openapi import ERROR_RESPONSES
from editserve.services.batches.views import BatchList, BatchView
from editserve.services.generations.requests import checked_idempotency_key

router = APIRouter(tags=["batches"], responses=ERROR_RESPONSES)


@router.post("/api/ai/batches", status_code=201)
async def submit(
    request: Request,
    owner: str = Depends(require_key),
    idempotency_key: str | None = Header(default=None),
) -> BatchView:
    """A JSON object ({"requests": [...]} or {"template": {...}, "images": [...]}), or JSON
    Lines (application/jsonl: one request per line; priority and webhook as query
    parameters). Checked whole: a bad item refuses the batch, naming it by index."""
    return await services(request).batches.submit(
        owner,
        await request.body(),
        request.headers.get("content-type", "application/json"),
        dict(request.query_params),
        idempotency_key=checked_idempotency_key(idempotency_key),
        base_urls=own_base_urls(request),
    )


@router.get("/api/ai/batches")
async def list_batches(
    request: Request,
    owner: str = Depends(require_key),
    limit: int = Query(default=20),
    before: str | None = Query(default=None),
) -> BatchList:
    """The caller's batches, newest first."""
    return await to_thread.run_sync(services(request).batches.list, owner, limit, before)


@router.get("/api/ai/batches/{batch_id}")
async def get_batch(
    request: Request, batch_id: str, owner: str = Depends(require_key)
) -> BatchView:
    """A batch's counts by status and progress (one row read)."""
    return await to_thread.run_sync(services(request).batches.get, owner, batch_id)


@router.delete("/api/ai/batches/{batch_id}")
async def cancel_batch(
    request: Request, batch_id: str, owner: str = Depends(require_key)
) -> BatchView:
    """Cancel the items that have not started; those running finish."""
    return await to_thread.run_sync(services(request).batches.cancel, owner, batch_id)


@router.get("/api/ai/batches/{batch_id}/results")
async def batch_results(
    request: Request, batch_id: str, owner: str = Depends(require_key)
) -> StreamingResponse:
    """The manifest: one JSON line per item, in order (index, custom_id, generation_id,
    status, result_url, error)."""
    batches = services(request).batches
    lines = await to_thread.run_sync(batches.manifest, owner, batch_id, url_builder(request))
    return StreamingResponse(lines, media_type="application/jsonl")


@router.get("/api/ai/batches/{batch_id}/zip")
async def batch_zip(
    request: Request, batch_id: str, owner: str = Depends(require_key)
) -> StreamingResponse:
    """Every succeeded item's output, and manifest.jsonl, in one zip (streamed)."""
    batches = services(request).batches
    name, chunks = await to_thread.run_sync(batches.zip, owner, batch_id, url_builder(request))
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(chunks, media_type="application/zip", headers=headers)
