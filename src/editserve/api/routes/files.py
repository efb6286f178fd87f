"""GET/HEAD /files/{key}: stored inputs and outputs by signed link (no Bearer header).

A lasting link (``?signature=``) works for as long as the blob exists; the first,
expiring form (``?expires=&signature=``) is honoured until it expires. The local folder
is served directly; object storage answers with a redirect to a fresh presigned URL
(valid ``url_ttl_seconds``), so this node never carries the bytes. Blobs never change
under a key (``outputs/<generation_id>.<ext>``, content-addressed ``inputs/<sha256>...``):
what a client fetched it may keep.

A link dies with its key: once every key that owns the blob is revoked, the link answers
404 (read from the store on every request, so every node agrees at once). Every answer
carries ``X-Content-Type-Options: nosniff``: the bytes are served as the image type their
key names, never as whatever a browser might guess.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, RedirectResponse, Response

from editserve.api.context import services
from editserve.api.openapi import ERROR_RESPONSES
from editserve.blobs.base import guess_content_type
from editserve.core.errors import NotFound, Unauthenticated

router = APIRouter(tags=["files"])

# The bytes under a key never change; a link is a capability: keep it out of shared caches.
IMMUTABLE = "private, max-age=31536000, immutable"
NOSNIFF = {"X-Content-Type-Options": "nosniff"}

_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The stored file", "content": {"image/*": {}}},
    307: {"description": "Object storage: a fresh presigned URL of the file"},
    **{status: ERROR_RESPONSES[status] for status in (400, 401, 404)},
}


@router.get("/files/{key:path}", response_class=Response, responses=_FILE_RESPONSES)
@router.head("/files/{key:path}", response_class=Response, include_in_schema=False)
async def get_file(
    request: Request,
    key: str,
    signature: str = Query(description="HMAC of the key (and of expires, if given)"),
    expires: str | None = Query(
        None, description="Unix time an expiring link stops working; absent on lasting links"
    ),
) -> Response:
    svc = services(request)
    if not svc.signer.verify_link(key, expires, signature):
        raise Unauthenticated("signature: invalid or expired link; ask the API for a fresh URL")
    if await run_in_threadpool(svc.keys.link_revoked, key):
        raise NotFound(f"File not found: {key}")
    try:
        path = svc.storage.local_path(key)
    except NotFound:
        raise NotFound(f"File not found: {key}") from None
    stored = {"Cache-Control": IMMUTABLE, **NOSNIFF}
    if path is not None:
        if not path.is_file():
            raise NotFound(f"File not found: {key}")
        return FileResponse(path, media_type=guess_content_type(key), headers=stored)
    if not await run_in_threadpool(svc.storage.exists, key):
        raise NotFound(f"File not found: {key}")
    ttl = svc.settings.url_ttl_seconds
    presigned = svc.storage.presigned_url(key, ttl)
    if presigned:
        # Reusable while its target is valid, with a margin.
        cache = f"private, max-age={max(0, ttl // 2)}"
        return RedirectResponse(
            presigned, status_code=307, headers={"Cache-Control": cache, **NOSNIFF}
        )
    data = await run_in_threadpool(svc.storage.get, key)
    return Response(data, media_type=guess_content_type(key), headers=stored)
