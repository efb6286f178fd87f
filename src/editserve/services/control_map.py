"""POST /api/ai/images/control-map (an extension): one control map, computed on a worker.

The API process never imports torch or OpenCV, so a map it has not stored yet is computed
by a **control-map job**: an ordinary generation (durable, in the key's history, counted by
its quotas) on a served model (the body's ``model``, else the first served edit model),
whose params are ``{"control_map": {type, ...options}}`` and whose one input is the
picture. Any worker of that model runs it without the pipeline (worker/control.py): it
makes the map, stores it under its map key (``maps/<sha256>.png``: the picture's bytes,
the type, every option, the annotator's version and weights) and as the job's result.
The call waits for it like the sync edit (504 past EDITSERVE_SYNC_TIMEOUT_SECONDS).

A map stored already (by this call or by an edit's ``control``) is answered at once,
without a job. The answer's ``url`` is the map key's lasting link, usable as an
``input_image`` or as ``control.image`` with ``preprocess: false``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from anyio import to_thread
from pydantic import ValidationError

from editserve.blobs.base import BlobStorage
from editserve.core.errors import InvalidParams
from editserve.domain.record import Generation, Status
from editserve.inputs.mask import upright_size
from editserve.inputs.resolver import FetchedInput
from editserve.models.annotators.cache_key import map_key
from editserve.models.annotators.options import AnnotatorOptions, canonical, parse_options
from editserve.models.spec import ModelSpec
from editserve.services.control_wire import ControlMapResponse
from editserve.services.generations.service import GenerationService
from editserve.services.wire import UrlFor

MAP_JOB = "control_map"  # the params key of a control-map job (worker/control.py)
IMAGE_FIELD = "image"
MAX_MODEL_CHARS = 256


class ControlMaps:
    def __init__(self, generations: GenerationService, storage: BlobStorage) -> None:
        self.generations = generations
        self.storage = storage

    async def compute(
        self, owner: str, body: object, *, base_urls: Sequence[str], url_for: UrlFor
    ) -> ControlMapResponse:
        """The map of the body's picture: stored already, or made by a job now."""
        image, spec, options = self._validate(body)
        resolver = self.generations.resolver()
        [item] = await resolver.fetch(
            [], owner, base_urls=base_urls, control=image, control_field=IMAGE_FIELD
        )
        key = map_key(item.stored.sha256, options.type, options)
        width, height = await self._upright(item)
        answer: dict[str, Any] = {"type": options.type, "width": width, "height": height}
        answer["options"] = {k: v for k, v in canonical(options).items() if k != "type"}
        if await to_thread.run_sync(self.storage.exists, key):
            return ControlMapResponse(url=url_for(key), cached=True, **answer)
        await to_thread.run_sync(self.generations.check_capacity, owner, 1)
        [stored] = await resolver.store([item])
        gen = Generation(
            id=str(uuid.uuid4()),
            owner=owner,
            model=spec.id,
            status=Status.QUEUED,
            params={MAP_JOB: canonical(options), "output_format": "png"},
            inputs=[stored.to_dict()],
            batch_id=str(uuid.uuid4()),
            batch_index=0,
            seed=0,
            width=width,
            height=height,
            area=width * height,
            enqueued_at=time.time(),
        )
        await to_thread.run_sync(self.generations.insert_within_capacity, [gen])
        timeout = self.generations.settings.sync_timeout_seconds
        done = await self.generations.wait_succeeded(gen, timeout)
        made = str((done.receipt or {}).get("control_map") or key)
        return ControlMapResponse(url=url_for(made), cached=False, generation_id=gen.id, **answer)

    def _validate(self, body: object) -> tuple[str, ModelSpec, AnnotatorOptions]:
        """The picture reference, the model whose workers run the job and the options."""
        if not isinstance(body, dict):
            raise InvalidParams("body: must be a JSON object")
        fields: dict[str, Any] = dict(body)
        image = fields.pop(IMAGE_FIELD, None)
        model = fields.pop("model", None)
        if "type" not in fields:
            raise InvalidParams("type: required field is missing")
        try:
            options = parse_options(fields)
        except ValidationError as exc:
            raise InvalidParams(_describe(exc)) from None
        if not isinstance(image, str) or not image.strip():
            raise InvalidParams(f"{IMAGE_FIELD}: required: a URL, data URI or upload URL")
        return image.strip(), self._model(model), options

    def _model(self, name: object) -> ModelSpec:
        registry = self.generations.registry
        if name is None:
            edits = [spec for spec in registry.all() if spec.kind == "edit"]
            return edits[0] if edits else registry.default
        if not isinstance(name, str) or not name or len(name) > MAX_MODEL_CHARS:
            raise InvalidParams(f"model: a served model id (at most {MAX_MODEL_CHARS} characters)")
        return registry.get(name)  # NotFound: "Model not found: <id>"

    async def _upright(self, item: FetchedInput) -> tuple[int, int]:
        data = item.data
        if data is None:
            data = await to_thread.run_sync(self.storage.get, item.stored.key)
        return upright_size(data)


def _describe(exc: ValidationError) -> str:
    """The options' errors naming the option (the union's tag left out of the path)."""
    parts = []
    for error in exc.errors():
        path = [str(item) for item in error["loc"]]
        loc = path[1:] or path or ["type"]  # an option; the type's own rule; the type
        if error["type"] == "extra_forbidden":
            parts.append(f"{'.'.join(loc)}: unknown option")
        else:
            parts.append(f"{'.'.join(loc)}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


__all__ = ["MAP_JOB", "ControlMaps"]
