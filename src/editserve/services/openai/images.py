"""The OpenAI Images API over the generation service: ``images.edit``,
``images.generate`` and ``models.list``.

An OpenAI image call becomes an ordinary enqueue (so it is queued, recorded, in the history
and the workbench, and counts against the key's capacity), then waits for its generations
like the sync edit does. ``size`` WIDTHxHEIGHT is the exact output size (the model's
width/height bounds apply); ``auto`` lets the model size it (its ``aspect_ratio`` may ride
along as an extra field). A ``mask`` file (OpenAI's rule: transparent = edit, the first
image's size) becomes the model's ``mask`` field: a masked edit (models without one refuse
it by name). What the served model cannot do is a clear 400, never ignored: transparent
backgrounds, streaming.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pydantic import ValidationError

from editserve.core.errors import InvalidParams
from editserve.core.settings import Settings
from editserve.models.registry import ModelRegistry
from editserve.models.spec import ModelKind, ModelSpec
from editserve.services.generations.requests import QueueEnvelope, describe_validation_error
from editserve.services.generations.service import GenerationService
from editserve.services.generations.sync import SyncCalls
from editserve.services.openai.wire import (
    EditForm,
    GenerateForm,
    ImageData,
    ImagesResponse,
    OpenAIModel,
    OpenAIModelList,
)
from editserve.services.wire import UrlFor

log = logging.getLogger("editserve.openai")

# Form fields of the OpenAI API that this server refuses (with the reason).
UNSUPPORTED = {
    "markup": "markup images are not supported",
    "stream": "streaming is not supported; use GET /api/events for live progress",
    "partial_images": "partial images are not supported",
}
OUTPUT_FORMATS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
# The model parameters OpenAI's own fields stand for (not accepted under their own names).
MAPPED_PARAMS = (
    "prompt",
    "input_image",
    "output_format",
    "preview",
    "width",
    "height",
    "output_quality",
)
RATIO_TOLERANCE = 0.01


@dataclass(frozen=True)
class UploadedImage:
    data: bytes
    content_type: str


# The calls of this API for each kind of model, for errors that name the right one.
OPENAI_ENDPOINTS = {
    "edit": "POST /v1/images/edits (with image files)",
    "generate": "POST /v1/images/generations",
}


class _EditBody(QueueEnvelope):
    kind: ClassVar[ModelKind | None] = "edit"


class _GenerateBody(QueueEnvelope):
    kind: ClassVar[ModelKind | None] = "generate"


class OpenAIImages:
    def __init__(
        self,
        settings: Settings,
        generations: GenerationService,
        sync: SyncCalls,
        registry: ModelRegistry,
    ) -> None:
        self.settings = settings
        self.generations = generations
        self.sync = sync
        self.registry = registry

    def models(self) -> OpenAIModelList:
        """GET /v1/models: every served model, with its aliases as ids of their own."""
        data = []
        for spec in self.registry.all():
            created = int(spec.card.get("created", 0))
            owner = str(spec.card.get("owned_by", "editserve"))
            for name in (spec.id, *spec.aliases):
                data.append(OpenAIModel(id=name, created=created, owned_by=owner))
        return OpenAIModelList(data=data)

    async def edit(
        self,
        owner: str,
        fields: dict[str, str],
        images: Sequence[UploadedImage],
        *,
        base_urls: Sequence[str],
        url_for: UrlFor,
        mask: UploadedImage | None = None,
    ) -> ImagesResponse:
        """POST /v1/images/edits: enqueue n generations and wait for them; a ``mask``
        file makes it a masked edit of the first image."""
        spec = self._model(fields.get("model"), "edit")
        extras = _model_extras(spec, fields)
        form = _edit_form({k: v for k, v in fields.items() if k not in extras}, images)
        inputs: dict[str, Any] = {"input_image": [_data_uri(image) for image in images]}
        if mask is not None:
            if "mask" in fields:
                raise InvalidParams("mask: given more than once (a file and a field)")
            inputs["mask"] = _data_uri(mask)
        return await self._run(owner, spec, form, {**inputs, **extras}, base_urls, url_for)

    async def generate(
        self, owner: str, body: object, *, base_urls: Sequence[str], url_for: UrlFor
    ) -> ImagesResponse:
        """POST /v1/images/generations: n pictures from a prompt, waited for."""
        if not isinstance(body, dict):
            raise InvalidParams("body: must be a JSON object")
        spec = self._model(body.get("model"), "generate")
        extras = _model_extras(spec, body)
        form = _checked_form(GenerateForm, {k: v for k, v in body.items() if k not in extras})
        return await self._run(owner, spec, form, extras, base_urls, url_for)

    def _model(self, name: object, kind: ModelKind) -> ModelSpec:
        """The named model (any kind: a wrong one is refused with advice when validated),
        or the first served model of the call's kind."""
        if name:
            return self.registry.get(str(name))
        for spec in self.registry.all():
            if spec.kind == kind:
                return spec
        return self.registry.default  # refused with advice by the kind check

    async def _run(
        self,
        owner: str,
        spec: ModelSpec,
        form: EditForm | GenerateForm,
        fields: dict[str, Any],
        base_urls: Sequence[str],
        url_for: UrlFor,
    ) -> ImagesResponse:
        """Enqueue the form's n generations as an ordinary queue request, then wait."""
        if form.user or form.safety_identifier:
            log.info("openai call for end user %.200s", form.user or form.safety_identifier)
        body: dict[str, object] = {
            "model": spec.id,
            "prompt": form.prompt,
            "output_format": OUTPUT_FORMATS[form.output_format],
            "num_generations": form.n,
            **_size_fields(spec, form.size),
            **fields,
        }
        if form.output_compression is not None:
            body["output_quality"] = max(1, form.output_compression)
        if form.quality == "low":
            body["preview"] = True
        gens = await self.generations.submit(
            owner,
            body,
            _GenerateBody if isinstance(form, GenerateForm) else _EditBody,
            idempotency_key=None,
            base_urls=base_urls,
            endpoints=OPENAI_ENDPOINTS,
        )
        done = await self.sync.wait_all(gens)
        data = [  # every picture of each generation (a layered model's layers, in order)
            ImageData.model_validate(picture.model_dump())
            for gen in done
            for picture in await self.sync.images(gen, form.response_format, url_for)
        ]
        return ImagesResponse(
            created=int(time.time()),
            data=data,
            size=f"{done[0].width}x{done[0].height}",
            output_format=form.output_format,
            quality=form.quality,
            background="opaque",
        )


def _edit_form(fields: dict[str, str], images: Sequence[UploadedImage]) -> EditForm:
    form = _checked_form(EditForm, fields)
    if not images:
        raise InvalidParams("image: at least one image file is required")
    return form


FormT = TypeVar("FormT", EditForm, GenerateForm)


def _checked_form(form_type: type[FormT], fields: dict[str, Any]) -> FormT:
    for name, reason in UNSUPPORTED.items():
        if name in fields and fields[name] not in ("", "false", "0", False, None):
            raise InvalidParams(f"{name}: {reason}")
    if fields.get("background") == "transparent":
        raise InvalidParams("background: transparent outputs are not supported")
    try:
        return form_type.model_validate({k: v for k, v in fields.items() if k not in UNSUPPORTED})
    except ValidationError as exc:
        raise InvalidParams(describe_validation_error(exc)) from None


def _model_extras(spec: ModelSpec, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Fields that name one of the model's own parameters (seed, steps, ...), passed
    through as editserve extensions (e.g. the SDK's ``extra_body``); validated as usual."""
    own = set(spec.params_model.model_fields) - set(MAPPED_PARAMS)
    return {name: value for name, value in fields.items() if name in own}


def _data_uri(image: UploadedImage) -> str:
    content_type = image.content_type if image.content_type.startswith("image/") else "image/png"
    return f"data:{content_type};base64,{base64.b64encode(image.data).decode()}"


def _size_fields(spec: ModelSpec, size: str) -> dict[str, object]:
    """``size``: ``auto`` leaves sizing to the model (and an ``aspect_ratio`` extra);
    ``WIDTHxHEIGHT`` is an exact output size where the model takes one, else the closest
    of its aspect ratios."""
    if size == "auto":
        return {}
    width, _, height = size.partition("x")
    if {"width", "height"} <= set(spec.params_model.model_fields):
        return {"width": int(width), "height": int(height)}
    return {"aspect_ratio": _aspect_ratio(spec, int(width), int(height))}


def _aspect_ratio(spec: ModelSpec, width: int, height: int) -> str:
    """The model's aspect ratio (its schema's enum, "W:H" names) closest to width/height."""
    size = f"{width}x{height}"
    wanted = width / height
    choices = spec.request_schema()["properties"].get("aspect_ratio", {}).get("enum", [])
    for name in choices:
        left, colon, right = str(name).partition(":")
        if colon and abs(int(left) / int(right) - wanted) <= RATIO_TOLERANCE * wanted:
            return str(name)
    ratios = ", ".join(str(c) for c in choices if c != "auto")
    raise InvalidParams(
        f"size: {size} has no matching aspect ratio on this model; use auto or a size with "
        f"one of the ratios {ratios} (the output has the model's native area at that ratio)"
    )
