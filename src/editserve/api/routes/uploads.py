"""POST /api/ai/uploads: store an image and get a URL usable as input_image."""

from __future__ import annotations

import secrets
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from editserve.api.auth import require_key
from editserve.api.services import base_url, services, url_builder
from editserve.errors import InvalidParams, NotFound
from editserve.store.base import UploadRow

router = APIRouter(tags=["uploads"])


async def _upload_bytes(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        files = [value for value in form.values() if isinstance(value, UploadFile)]
        if len(files) != 1:
            raise InvalidParams("file: send exactly one file part (multipart field 'file')")
        return await files[0].read()
    data = await request.body()
    if not data:
        raise InvalidParams("body: empty; send an image as the body or as multipart field 'file'")
    return data


@router.post("/api/ai/uploads")
async def upload(request: Request, owner: str = Depends(require_key)) -> dict[str, Any]:
    """Upload one image (multipart field `file`, or the raw bytes as the body)."""
    svc = services(request)
    data = await _upload_bytes(request)
    stored = await svc.inputs.store_upload(data)
    row = UploadRow(
        id="upl_" + secrets.token_urlsafe(16),
        owner=owner,
        created_at=time.time(),
        **stored.to_dict(),
    )
    await run_in_threadpool(svc.store.insert_upload, row)
    return {
        "id": row.id,
        "url": f"{base_url(request)}/api/ai/uploads/{row.id}",
        "preview_url": url_builder(request)(row.key),
        "content_type": row.content_type,
        "format": row.format,
        "width": row.width,
        "height": row.height,
        "bytes": row.size,
        "sha256": row.sha256,
    }


@router.get("/api/ai/uploads/{upload_id}")
async def get_upload(
    request: Request, upload_id: str, owner: str = Depends(require_key)
) -> Response:
    svc = services(request)
    row = await run_in_threadpool(svc.store.get_upload, upload_id, owner)
    if row is None:
        raise NotFound(f"Upload not found: {upload_id}")
    data = await run_in_threadpool(svc.storage.get, row.key)
    return Response(data, media_type=row.content_type)
