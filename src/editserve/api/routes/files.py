"""GET /files/{key}: stored inputs and outputs by signed, expiring URL (no Bearer header)."""

from __future__ import annotations

import mimetypes
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from editserve.api.openapi import ERROR_RESPONSES
from editserve.api.services import services
from editserve.errors import NotFound, Unauthenticated

router = APIRouter(tags=["files"])

_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The stored file", "content": {"image/*": {}}},
    **{status: ERROR_RESPONSES[status] for status in (400, 401, 404)},
}


@router.get("/files/{key:path}", response_class=Response, responses=_FILE_RESPONSES)
async def get_file(
    request: Request,
    key: str,
    expires: int = Query(description="Unix time the link stops working"),
    signature: str = Query(description="HMAC of key and expiry"),
) -> Response:
    svc = services(request)
    if not svc.signer.verify(key, expires, signature):
        raise Unauthenticated("signature: invalid or expired link; ask the API for a fresh URL")
    media_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    headers = {"Cache-Control": "private, max-age=3600"}
    path = svc.storage.local_path(key)
    if path is not None:
        if not path.exists():
            raise NotFound(f"File not found: {key}")
        return FileResponse(path, media_type=media_type, headers=headers)
    data = await run_in_threadpool(svc.storage.get, key)
    return Response(data, media_type=media_type, headers=headers)
