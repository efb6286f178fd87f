"""The ``batches`` namespace of :class:`AsyncClient`: up to 10,000 edit or generate
requests submitted as one (``POST /api/ai/batches``), run at a lower priority than
interactive work, read back as a manifest and a zip.

``_batches.py`` (the namespace of :class:`Client`) is generated from ``_async_batches.py``
by ``scripts/unasync.py``: edit the source, then run the script.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx

from editserve.client._async_resources import _Owner, _Resource
from editserve.client._base import Deadline, drop_none, idempotency_headers
from editserve.client._batch_types import Batch, BatchPage, BatchResult, batch_id_of
from editserve.client._exceptions import error_from_response
from editserve.client._inputs import ImageInput, LocalImage, as_list, classify

__all__ = ["Batches"]

IMAGE_FIELDS = ("input_image", "mask")  # the fields of a request that name pictures


class _BatchOwner(_Owner, Protocol):
    """What ``batches`` uses of its client beyond what every namespace does."""

    _http: httpx.AsyncClient

    async def _inline_or_upload(self, image: LocalImage) -> str: ...


class Batches(_Resource):
    """``client.batches``: submit, follow, cancel and collect batches of requests."""

    def __init__(self, client: _BatchOwner) -> None:
        super().__init__(client)
        self._owner = client

    async def create(
        self,
        requests: Iterable[Mapping[str, Any]] | None = None,
        *,
        template: Mapping[str, Any] | None = None,
        images: Sequence[ImageInput] | None = None,
        priority: int | None = None,
        webhook: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Batch:
        """Submit a batch (``POST /api/ai/batches``): ``requests`` (request objects, each
        with ``model``, ``prompt``, ``input_image`` and parameters, and optionally a
        ``custom_id``), or a ``template`` applied to each of ``images``.

        Local pictures (paths, bytes, PIL images) are uploaded first, each distinct one
        once. The server checks the batch whole: one bad item refuses it all
        (:class:`InvalidRequestError` naming ``requests[i].field``) and nothing is stored.
        ``priority``: -100 to 0 (default -10, below interactive work). ``webhook`` gets
        ``batch.completed``. The same ``idempotency_key`` with the same batch returns the
        batch submitted before instead of a second one.
        """
        if (requests is None) == (template is None and images is None):
            raise TypeError("batches.create: give requests, or template and images")
        refs: dict[str, str] = {}
        body: dict[str, Any]
        if requests is not None:
            body = {"requests": [await self._with_refs(item, refs) for item in requests]}
        else:
            if template is None or not images:
                raise TypeError("batches.create: a template needs a non-empty images list")
            body = {
                "template": await self._with_refs(template, refs),
                "images": [await self._ref(image, n, refs) for n, image in enumerate(images)],
            }
        options = {"priority": priority, "webhook": webhook, "metadata": metadata}
        body.update(drop_none(options))
        data = await self._client._json(
            "POST", "/api/ai/batches", json=body, headers=idempotency_headers(idempotency_key)
        )
        return Batch.from_json(data)

    async def get(self, batch: str | Batch) -> Batch:
        """A batch's counts by status and its progress (``GET /api/ai/batches/{id}``)."""
        return Batch.from_json(
            await self._client._json("GET", f"/api/ai/batches/{batch_id_of(batch)}")
        )

    async def list(self, *, limit: int | None = None, before: str | None = None) -> BatchPage:
        """This key's batches, newest first (``GET /api/ai/batches``); ``before``: the
        ``next_before`` of the previous page."""
        params = drop_none({"limit": limit, "before": before})
        return BatchPage.from_json(
            await self._client._json("GET", "/api/ai/batches", params=params)
        )

    async def cancel(self, batch: str | Batch) -> Batch:
        """Cancel the items that have not started (``DELETE /api/ai/batches/{id}``); those
        running finish. The batch's status becomes ``cancelled`` once they have."""
        return Batch.from_json(
            await self._client._json("DELETE", f"/api/ai/batches/{batch_id_of(batch)}")
        )

    async def results(self, batch: str | Batch) -> AsyncIterator[BatchResult]:
        """The manifest, one :class:`BatchResult` per item in order, read as it streams
        (``GET /api/ai/batches/{id}/results``). Items not ended yet show as they are."""
        path = f"/api/ai/batches/{batch_id_of(batch)}/results"
        async with self._owner._http.stream("GET", path, timeout=self._client.timeout) as response:
            if response.is_error:
                await response.aread()
                raise error_from_response(response)
            async for line in response.aiter_lines():
                if line.strip():
                    yield BatchResult.from_json(json.loads(line))

    async def download_zip(self, batch: str | Batch, path: str | os.PathLike[str]) -> Path:
        """Save the zip of every succeeded item's output and ``manifest.jsonl`` (``GET
        /api/ai/batches/{id}/zip``) to ``path`` (a file, or a folder to put
        ``<batch id>.zip`` in), streamed to disk. Returns the path written."""
        batch_id = batch_id_of(batch)
        target = Path(path)
        if target.is_dir():
            target = target / f"{batch_id}.zip"
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        url = f"/api/ai/batches/{batch_id}/zip"
        async with self._owner._http.stream("GET", url, timeout=self._client.timeout) as response:
            if response.is_error:
                await response.aread()
                raise error_from_response(response)
            with partial.open("wb") as file:
                async for chunk in response.aiter_bytes():
                    file.write(chunk)
        partial.replace(target)
        return target

    async def wait(
        self,
        batch: str | Batch,
        *,
        on_progress: Callable[[Batch], Any] | None = None,
        poll: float = 2.0,
        timeout: float | None = None,
    ) -> Batch:
        """Poll the batch every ``poll`` seconds until every item has ended (status
        ``completed`` or ``cancelled``) and return it; ``on_progress`` is called with each
        poll's :class:`Batch`. Raises :class:`TimeoutError` after ``timeout`` seconds (the
        batch keeps running)."""
        deadline = Deadline(timeout)
        while True:
            current = await self.get(batch)
            if on_progress is not None:
                on_progress(current)
            if current.done:
                return current
            if deadline.expired:
                raise TimeoutError(
                    f"batch {current.id} still running after {timeout} s "
                    f"({current.counts.ended} of {current.counts.total} items ended)"
                )
            await asyncio.sleep(deadline.cap(max(poll, 0.01)))

    # --- inputs --------------------------------------------------------------------------
    async def _with_refs(self, item: Mapping[str, Any], refs: dict[str, str]) -> dict[str, Any]:
        """The request with its local pictures uploaded (or inlined)."""
        body = dict(item)
        for name in IMAGE_FIELDS:
            value = body.get(name)
            if value is None or value == "":
                continue
            resolved = [await self._ref(image, n, refs) for n, image in enumerate(as_list(value))]
            body[name] = resolved if name == "input_image" else resolved[0]
        return body

    async def _ref(self, image: ImageInput, index: int, refs: dict[str, str]) -> str:
        """A wire reference for one picture; each distinct local picture sent once."""
        ref = classify(image, index)
        if isinstance(ref, str):
            return ref
        digest = hashlib.sha256(ref.data).hexdigest()
        if digest not in refs:
            refs[digest] = await self._owner._inline_or_upload(ref)
        return refs[digest]
