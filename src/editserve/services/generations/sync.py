"""The calls that answer with the images: POST /api/ai/images/edit and
POST /api/ai/images/generate (and, through OpenAIImages, OpenAI's). Each is an ordinary
enqueue (queued, recorded, in the history) that then waits for its generations; past
EDITSERVE_SYNC_TIMEOUT_SECONDS it is a 504 with the generation id, and the work goes on."""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence

from anyio import to_thread

from editserve.blobs.base import BlobStorage
from editserve.domain.record import Generation
from editserve.services.generations.requests import EditEnvelope, GenerateEnvelope
from editserve.services.generations.service import GenerationService
from editserve.services.wire import (
    EditResponse,
    GeneratedImage,
    GenerateResponse,
    ImageB64,
    ImageUrl,
    UrlFor,
)


class SyncCalls:
    def __init__(self, generations: GenerationService, storage: BlobStorage) -> None:
        self.generations = generations
        self.storage = storage

    async def edit(
        self,
        owner: str,
        body: object,
        *,
        idempotency_key: str | None,
        base_urls: Sequence[str],
        url_for: UrlFor,
    ) -> EditResponse:
        """POST /api/ai/images/edit: one generation, waited for (504 past the limit)."""
        [gen] = await self.generations.submit(
            owner, body, EditEnvelope, idempotency_key=idempotency_key, base_urls=base_urls
        )
        [done] = await self.wait_all([gen])
        return EditResponse(
            model=done.model,
            created=int(done.completed_at or time.time()),
            images=await self.images(done, _response_format(body), url_for),
            generation_id=done.id,
            seed=done.seed,
            width=done.width,
            height=done.height,
            timings=done.timings,
        )

    async def generate(
        self,
        owner: str,
        body: object,
        *,
        idempotency_key: str | None,
        base_urls: Sequence[str],
        url_for: UrlFor,
    ) -> GenerateResponse:
        """POST /api/ai/images/generate: 1-4 pictures from a prompt, waited for."""
        gens = await self.generations.submit(
            owner, body, GenerateEnvelope, idempotency_key=idempotency_key, base_urls=base_urls
        )
        done = await self.wait_all(gens)
        images = [await self.image(gen, _response_format(body), url_for) for gen in done]
        first = images[0]
        return GenerateResponse(
            model=done[0].model,
            created=int(max(gen.completed_at or time.time() for gen in done)),
            images=images,
            image_url=first.url if isinstance(first, ImageUrl) else None,
            generations=[
                GeneratedImage(
                    generation_id=gen.id, seed=gen.seed, width=gen.width, height=gen.height
                )
                for gen in done
            ],
            timings=done[0].timings,
        )

    async def wait_all(self, gens: Sequence[Generation]) -> list[Generation]:
        """Each generation once it succeeded, all within one sync timeout (504 past it,
        500/409 if one failed or was cancelled)."""
        timeout = self.generations.settings.sync_timeout_seconds
        deadline = time.monotonic() + timeout
        done = []
        for gen in gens:
            remaining = max(0.0, deadline - time.monotonic())
            done.append(await self.generations.wait_succeeded(gen, remaining))
        return done

    async def image(
        self, gen: Generation, response_format: str, url_for: UrlFor
    ) -> ImageUrl | ImageB64:
        """A finished generation's picture: a lasting link, or its bytes in base64."""
        assert gen.result_key is not None
        return await self._picture(gen.result_key, response_format, url_for)

    async def images(
        self, gen: Generation, response_format: str, url_for: UrlFor
    ) -> list[ImageUrl | ImageB64]:
        """Every picture of a finished generation, in order (a layered model's layers; one
        for the other models), as lasting links or base64 bytes."""
        assert gen.result_key is not None
        return [await self._picture(key, response_format, url_for) for key in gen.output_keys]

    async def _picture(
        self, key: str, response_format: str, url_for: UrlFor
    ) -> ImageUrl | ImageB64:
        if response_format != "b64_json":
            return ImageUrl(url=url_for(key))
        data = await to_thread.run_sync(self.storage.get, key)
        return ImageB64(b64_json=base64.b64encode(data).decode())


def _response_format(body: object) -> str:
    """The body's response_format (validated with its envelope before any wait)."""
    return str(body.get("response_format", "url")) if isinstance(body, dict) else "url"
