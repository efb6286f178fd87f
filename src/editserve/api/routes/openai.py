"""The OpenAI Images API: POST /v1/images/edits (multipart), POST /v1/images/generations
(JSON) and GET /v1/models.

Errors on these paths use OpenAI's envelope (see api/errors.py), so the official SDKs
raise their own exception types with our messages.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import UploadFile

from editserve.api.auth import require_key
from editserve.api.body import json_body
from editserve.api.context import own_base_urls, services, url_builder
from editserve.core.errors import InvalidParams
from editserve.services.openai.images import UploadedImage
from editserve.services.openai.wire import ImagesResponse, OpenAIError, OpenAIModelList

router = APIRouter(
    tags=["openai"],
    responses={
        status: {"model": OpenAIError, "description": description}
        for status, description in (
            (400, "Invalid request: the message names the field"),
            (401, "Missing, invalid or revoked API key"),
            (404, "Model not found"),
            (429, "Too many active generations for this key (see Retry-After)"),
            (503, "The job store is busy or unreachable (see Retry-After)"),
        )
    },
)
_EDIT_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"model": OpenAIError, "description": "A generation was cancelled meanwhile"},
    500: {"model": OpenAIError, "description": "A generation failed"},
    504: {"model": OpenAIError, "description": "Still running past the sync timeout"},
}

IMAGE_FIELDS = ("image", "image[]")
MASK_FIELD = "mask"


async def _read_form(
    request: Request,
) -> tuple[dict[str, str], list[UploadedImage], UploadedImage | None]:
    """The form's text fields, its image files in order, and its mask file (or None)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidParams("body: send multipart/form-data with image file(s) and a prompt")
    form = await request.form()
    fields: dict[str, str] = {}
    images: list[UploadedImage] = []
    mask: UploadedImage | None = None
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            upload = UploadedImage(await value.read(), value.content_type or "")
            if name == MASK_FIELD and mask is None:
                mask = upload
            elif name == MASK_FIELD:
                raise InvalidParams(f"{name}: given more than once")
            elif name not in IMAGE_FIELDS:
                raise InvalidParams(
                    f"{name}: unexpected file (send images as image or image[], a mask as mask)"
                )
            else:
                images.append(upload)
        elif name in fields:
            raise InvalidParams(f"{name}: given more than once")
        else:
            fields[name] = str(value)
    return fields, images, mask


@router.post("/v1/images/edits", responses=_EDIT_ERRORS)
async def images_edit(request: Request, owner: str = Depends(require_key)) -> ImagesResponse:
    """OpenAI-compatible image edit: one or more images and a prompt, n outputs."""
    fields, images, mask = await _read_form(request)
    return await services(request).openai.edit(
        owner,
        fields,
        images,
        base_urls=own_base_urls(request),
        url_for=url_builder(request),
        mask=mask,
    )


@router.post("/v1/images/generations", responses=_EDIT_ERRORS)
async def images_generate(request: Request, owner: str = Depends(require_key)) -> ImagesResponse:
    """OpenAI-compatible image generation: a prompt, n outputs (a text-to-image model)."""
    return await services(request).openai.generate(
        owner,
        await json_body(request),
        base_urls=own_base_urls(request),
        url_for=url_builder(request),
    )


@router.get("/v1/models")
async def models(request: Request, owner: str = Depends(require_key)) -> OpenAIModelList:
    """OpenAI-compatible model list: the served models and their aliases."""
    return services(request).openai.models()
