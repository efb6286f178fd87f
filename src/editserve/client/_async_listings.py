"""The namespaces of :class:`AsyncClient` that read and store: ``generations``, ``models``
and ``uploads``.

``_listings.py`` (the namespaces of :class:`Client`) is generated from
``_async_listings.py`` by ``scripts/unasync.py``: edit the source, then run the script.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterable

from editserve.client._async_resources import _Resource
from editserve.client._base import (
    DEFAULT_MODEL,
    drop_none,
    generation_id_of,
    idempotency_headers,
    status_param,
)
from editserve.client._inputs import ImageInput, LocalImage, classify
from editserve.client._lineage_types import Lineage
from editserve.client._types import Generation, GenerationPage, Model, Upload

__all__ = ["Generations", "Models", "Uploads"]


class Generations(_Resource):
    """``client.generations``: the paginated history of this key's generations."""

    async def list(
        self,
        *,
        page: int = 1,
        page_size: int = 50,
        status: str | Iterable[str] | None = None,
        model: str | None = None,
        media_type: str | None = None,
    ) -> GenerationPage:
        """One page of history, newest first (``GET /api/ai/generations``)."""
        params = drop_none(
            {
                "page": page,
                "page_size": page_size,
                "status": status_param(status),
                "model": model,
                "media_type": media_type,
            }
        )
        data = await self._client._json("GET", "/api/ai/generations", params=params)
        return GenerationPage.from_json(data, client=self._client)

    async def iter_all(
        self,
        *,
        page_size: int = 100,
        status: str | Iterable[str] | None = None,
        model: str | None = None,
    ) -> AsyncIterator[Generation]:
        """Every generation of the history, newest first, fetching pages as needed."""
        page = 1
        while True:
            result = await self.list(page=page, page_size=page_size, status=status, model=model)
            for gen in result:
                yield gen
            if not result.has_next or not result.generations:
                return
            page += 1

    async def get(self, generation: str | Generation) -> Generation:
        """One generation of the history (``GET /api/ai/generations/{id}``)."""
        gen_id = generation_id_of(generation)
        data = await self._client._json("GET", f"/api/ai/generations/{gen_id}")
        inner = data.get("generation")
        return Generation.from_json(inner if isinstance(inner, dict) else data, client=self._client)

    async def lineage(self, generation: str | Generation) -> Lineage:
        """The edit tree around a generation (``GET /api/ai/generations/{id}/lineage``):
        what it was made from (inputs that were this key's own result links) and what was
        made from it, at most 64 generations each way; a pruned one keeps its place with
        ``status == "pruned"``. :class:`NotFoundError` for another key's or an unknown id.
        """
        gen_id = generation_id_of(generation)
        data = await self._client._json("GET", f"/api/ai/generations/{gen_id}/lineage")
        return Lineage.from_json(data, client=self._client)


class Models(_Resource):
    """``client.models``: the served models and their request schemas."""

    async def list(self) -> builtins.list[Model]:
        """All models (``GET /api/ai/models``)."""
        data = await self._client._json("GET", "/api/ai/models")
        return [Model.from_json(item) for item in data.get("data") or []]

    async def get(self, model_id: str = DEFAULT_MODEL) -> Model:
        """One model, by id or hub id (``Qwen/Qwen-Image-Edit-2509``)."""
        return Model.from_json(await self._client._json("GET", f"/api/ai/models/{model_id}"))


class Uploads(_Resource):
    """``client.uploads``: store input images on the server (an editserve extension)."""

    async def create(self, file: ImageInput, *, filename: str | None = None) -> Upload:
        """Upload an image (a path, bytes, a binary file or a PIL image).

        Returns an :class:`Upload` whose ``url`` can be passed as an ``input_image``
        (by this key). Raises :class:`NotFoundError` on servers without uploads.
        """
        ref = classify(file)
        if isinstance(ref, str):
            raise ValueError("uploads.create: give a path, bytes, a file or a PIL image, not a URL")
        if filename:
            ref = LocalImage(data=ref.data, filename=filename, format=ref.format)
        return await self._create_local(ref)

    async def _create_local(self, image: LocalImage) -> Upload:
        files = {"file": (image.filename, image.data, image.content_type)}
        data = await self._client._json(
            "POST", "/api/ai/uploads", files=files, headers=idempotency_headers(None)
        )
        return Upload.from_json(data)
