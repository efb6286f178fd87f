"""The ``images`` namespace of :class:`AsyncClient`: the calls that wait for their
pictures (``POST /api/ai/images/edit`` and ``/generate``).

``_images.py`` (the namespace of :class:`Client`) is generated from ``_async_images.py``
by ``scripts/unasync.py``: edit the source, then run the script.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from editserve.client._async_resources import _Resource
from editserve.client._base import (
    DEFAULT_GENERATE_MODEL,
    DEFAULT_MODEL,
    Deadline,
    LoraInput,
    edit_result_json,
    idempotency_headers,
    lora_list,
    with_read_timeout,
)
from editserve.client._exceptions import GenerationTimeout
from editserve.client._image_types import Image
from editserve.client._inputs import ImageInput
from editserve.client._types import EditResult

__all__ = ["Images"]


class Images(_Resource):
    """``client.images``: the calls that wait for their pictures (edit, generate,
    control_map)."""

    async def edit(
        self,
        *,
        prompt: str,
        input_image: ImageInput | Sequence[ImageInput],
        model: str = DEFAULT_MODEL,
        aspect_ratio: str | None = None,
        negative_prompt: str | None = None,
        output_format: str | None = None,
        seed: int | None = None,
        num_inference_steps: int | None = None,
        true_cfg_scale: float | None = None,
        width: int | None = None,
        height: int | None = None,
        output_quality: int | None = None,
        loras: Sequence[LoraInput] | None = None,
        response_format: str = "url",
        target_namespace: str | None = None,
        timeout: float | None = None,
        idempotency_key: str | None = None,
        **params: Any,
    ) -> EditResult:
        """Edit 1-3 images and wait for the result (``POST /api/ai/images/edit``).

        ``input_image`` takes URLs, local paths, bytes, binary files or PIL images (one or
        a list); local ones are uploaded (or sent inline) for you. Parameters left as
        ``None`` take the server's defaults; other model parameters go in ``**params``
        (``mask=``; ``control={"type", "image", ...}``, the map as the last picture).
        ``loras``: up to 3, each ``"PATH[:SCALE]"``, ``(path, scale)`` or a mapping.

        ``timeout`` bounds the whole wait (``None``: no limit). When the server stops
        waiting first (504), the client keeps following the generation on the queue.

        Raises:
            InvalidRequestError: bad parameters or input images (the detail names them).
            GenerationFailed: the generation failed.
            GenerationTimeout: ``timeout`` expired; ``e.generation_id`` still runs.
        """
        deadline = Deadline(timeout)
        body = await self._model_body(
            model,
            prompt,
            input_image,
            aspect_ratio=aspect_ratio,
            negative_prompt=negative_prompt,
            output_format=output_format,
            seed=seed,
            num_inference_steps=num_inference_steps,
            true_cfg_scale=true_cfg_scale,
            width=width,
            height=height,
            output_quality=output_quality,
            loras=lora_list(loras),
            target_namespace=target_namespace,
            **params,
        )
        if response_format != "url":
            body["response_format"] = response_format
        data = await self._post_edit(body, response_format, deadline, idempotency_key)
        return EditResult.from_json(data, client=self._client)

    async def generate(
        self,
        *,
        prompt: str,
        model: str = DEFAULT_GENERATE_MODEL,
        num_generations: int = 1,
        aspect_ratio: str | None = None,
        negative_prompt: str | None = None,
        output_format: str | None = None,
        seed: int | None = None,
        num_inference_steps: int | None = None,
        true_cfg_scale: float | None = None,
        width: int | None = None,
        height: int | None = None,
        output_quality: int | None = None,
        loras: Sequence[LoraInput] | None = None,
        response_format: str = "url",
        timeout: float | None = None,
        idempotency_key: str | None = None,
        **params: Any,
    ) -> EditResult:
        """Make 1-4 pictures from a prompt with a text-to-image model and wait for them
        (``POST /api/ai/images/generate``); ``result.images`` holds them in order, each
        with its generation id and seed. Other parameters as for :meth:`edit`.

        Raises:
            InvalidRequestError: bad parameters, or a model that edits (the detail says).
            GenerationFailed: a generation failed.
            GenerationTimeout: the server stopped waiting (504); ``e.generation_id``
                still runs, follow it with ``client.queue.wait``.
        """
        body = await self._model_body(
            model,
            prompt,
            None,
            aspect_ratio=aspect_ratio,
            negative_prompt=negative_prompt,
            output_format=output_format,
            seed=seed,
            num_inference_steps=num_inference_steps,
            true_cfg_scale=true_cfg_scale,
            width=width,
            height=height,
            output_quality=output_quality,
            loras=lora_list(loras),
            **params,
        )
        if num_generations != 1:
            body["num_generations"] = num_generations
        if response_format != "url":
            body["response_format"] = response_format
        data = await self._client._json(
            "POST",
            "/api/ai/images/generate",
            json=body,
            headers=idempotency_headers(idempotency_key),
            timeout=with_read_timeout(self._client.timeout, Deadline(timeout).remaining()),
        )
        return EditResult.from_generate_json(data, client=self._client)

    async def control_map(
        self,
        type: str,
        image: ImageInput,
        *,
        model: str | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> Image:
        """One control map (``POST /api/ai/images/control-map``): ``type`` is canny,
        lineart, scribble, gray, depth or pose; ``image`` any form ``input_image`` takes
        (a local one is uploaded); ``**options`` the type's options. A worker computes it
        (once per picture and settings); the result's ``url`` is a lasting link, usable as
        an input (``control={"type": ..., "image": url, "preprocess": False}``)."""
        [picture] = await self._client._resolve_inputs(image)
        body: dict[str, Any] = {"type": type, "image": picture, **options}
        if model is not None:
            body["model"] = model
        data = await self._client._json(
            "POST",
            "/api/ai/images/control-map",
            json=body,
            timeout=with_read_timeout(self._client.timeout, Deadline(timeout).remaining()),
        )
        return Image.from_json(data, client=self._client, generation_id=data.get("generation_id"))

    async def _post_edit(
        self,
        body: dict[str, Any],
        response_format: str,
        deadline: Deadline,
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        """The edit response; after a 504 (the server stopped waiting), one built from the
        generation followed on the queue until ``deadline``."""
        try:
            return await self._client._json(
                "POST",
                "/api/ai/images/edit",
                json=body,
                headers=idempotency_headers(idempotency_key),
                timeout=with_read_timeout(self._client.timeout, deadline.remaining()),
            )
        except GenerationTimeout as exc:
            if exc.generation_id is None or deadline.expired:
                raise
            gen = await self._client.queue.wait(exc.generation_id, timeout=deadline.remaining())
        b64 = None
        if response_format == "b64_json":
            b64 = base64.b64encode(await gen.aread_bytes()).decode()
        return edit_result_json(gen, b64)
