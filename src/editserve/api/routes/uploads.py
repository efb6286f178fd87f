"""POST /api/ai/uploads: store an image and get a URL usable as input_image."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from editserve.api.auth import require_key
from editserve.api.context import base_url, services, url_builder
from editserve.api.openapi import ERROR_RESPONSES
from editserve.core.errors import InvalidParams
from editserve.services.uploads import UploadResponse

router = APIRouter(tags=["uploads"], responses=ERROR_RESPONSES)


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
async def upload(request: Request, owner: str = Depends(require_key)) -> UploadResponse:
    """Upload one image (multipart field `file`, or the raw bytes as the body)."""
    return await services(request).uploads.create(
        owner,
        await _upload_bytes(request),
        base_url=base_url(request),
        url_for=url_builder(request),
    )


@router.get("/api/ai/uploads/{upload_id}", response_class=Response)
async def get_upload(
    request: Request, upload_id: str, owner: str = Depends(require_key)
) -> Response:
    data, content_type = await services(request).uploads.content(owner, upload_id)
    return Response(data, media_type=content_type, headers={"X-Content-Type-Options": "nosniff"})
