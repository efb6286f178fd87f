"""The ``queue`` namespace of :class:`AsyncClient` and what every namespace shares
(``images`` is in ``_async_images.py``; ``generations``, ``models`` and ``uploads`` are
in ``_async_listings.py``).

``_resources.py`` (the namespaces of :class:`Client`) is generated from
``_async_resources.py`` by ``scripts/unasync.py``: edit the source, then run the script.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from contextlib import aclosing
from typing import Any, Protocol

import httpx

from editserve.client._base import (
    DEFAULT_MODEL,
    UNSUPPORTED_STATUSES,
    Deadline,
    EventCallback,
    LoraInput,
    WaitState,
    drop_none,
    finish,
    generation_id_of,
    idempotency_headers,
    lora_list,
    model_body,
    status_param,
)
from editserve.client._exceptions import APIError
from editserve.client._inputs import ImageInput
from editserve.client._types import Event, Generation

__all__ = ["Queue"]


class _Owner(Protocol):
    """What the namespaces use of the :class:`AsyncClient` that owns them.

    The client satisfies it structurally, so the namespace modules need not import the
    client module (which imports them): no import cycle.
    """

    @property
    def timeout(self) -> httpx.Timeout: ...

    @property
    def queue(self) -> Queue: ...

    _events_supported: bool | None

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]: ...

    async def _resolve_inputs(self, value: ImageInput | Sequence[ImageInput]) -> list[str]: ...

    def _iter_events(
        self,
        last_event_id: str | None,
        *,
        deadline: Deadline | None = None,
        reconnect: bool = True,
    ) -> AsyncGenerator[Event | None, None]: ...


class _Resource:
    def __init__(self, client: _Owner) -> None:
        self._client = client

    async def _model_body(
        self,
        model: str,
        prompt: str,
        input_image: ImageInput | Sequence[ImageInput] | None,
        **options: Any,
    ) -> dict[str, Any]:
        """The body of an edit, generate or enqueue call, with the local input images
        uploaded (or inlined) first (``None``: a generate call, no pictures); a masked
        edit's local ``mask`` and a ``control`` map's local ``image`` too."""
        inputs = None if input_image is None else await self._client._resolve_inputs(input_image)
        if options.get("mask") not in (None, ""):  # "": a form's empty field, no mask
            [options["mask"]] = await self._client._resolve_inputs(options["mask"])
        control = options.get("control")
        if isinstance(control, dict) and control.get("image") not in (None, ""):
            # a control map's picture (a local one uploaded like input_image's)
            [image] = await self._client._resolve_inputs(control["image"])
            options["control"] = {**control, "image": image}
        return model_body(model=model, prompt=prompt, input_image=inputs, options=options)


class Queue(_Resource):
    """``client.queue``: enqueue, inspect, cancel and wait for generations."""

    async def submit(
        self,
        *,
        prompt: str,
        input_image: ImageInput | Sequence[ImageInput] | None = None,
        model: str = DEFAULT_MODEL,
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
        target_namespace: str | None = None,
        idempotency_key: str | None = None,
        sweep: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> builtins.list[Generation]:
        """Enqueue ``num_generations`` (1-4) generations (``POST /api/ai/queue``).

        Returns one :class:`Generation` per output image, with only ``generation_id``
        and ``status`` (``queued``) filled in; follow them with :meth:`wait` or
        :meth:`get`. Inputs are as for :meth:`Images.edit`; a text-to-image ``model``
        (e.g. ``qwen-image``) takes none. ✚ ``sweep``: a grid such as ``{"seed": [1, 2],
        "true_cfg_scale": [2.5, 4]}``, one generation per cell (docs/api.md, Sweeps).
        """
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
        if num_generations != 1:
            body["num_generations"] = num_generations
        if sweep is not None:
            body["sweep"] = dict(sweep)
        data = await self._client._json(
            "POST", "/api/ai/queue", json=body, headers=idempotency_headers(idempotency_key)
        )
        return [
            Generation.from_json(item, client=self._client)
            for item in data.get("generations") or []
        ]

    async def get(self, generation: str | Generation) -> Generation:
        """One generation, with its status, progress, seed and result URL."""
        gen_id = generation_id_of(generation)
        data = await self._client._json("GET", f"/api/ai/queue/{gen_id}")
        return Generation.from_json(data, client=self._client)

    async def list(
        self,
        *,
        status: str | Iterable[str] | None = None,
        model: str | None = None,
        media_type: str | None = None,
    ) -> builtins.list[Generation]:
        """This key's active generations (queued and processing), or those with ``status``
        (one status, a comma list, or an iterable of them)."""
        params = drop_none(
            {"status": status_param(status), "model": model, "media_type": media_type}
        )
        data = await self._client._json("GET", "/api/ai/queue", params=params)
        return [
            Generation.from_json(item, client=self._client)
            for item in data.get("generations") or []
        ]

    async def cancel(
        self, generation: str | Generation, *, wait: bool = False, timeout: float | None = 60.0
    ) -> Generation:
        """Cancel a generation (``DELETE /api/ai/queue/{id}``) and return its state.

        A queued generation is cancelled at once; a running one stops at its next
        denoising step: pass ``wait=True`` to wait (up to ``timeout`` s) until it has.
        Cancelling a finished generation changes nothing.
        """
        gen_id = generation_id_of(generation)
        await self._client._json("DELETE", f"/api/ai/queue/{gen_id}")
        if wait:
            return await self.wait(gen_id, timeout=timeout, raise_on_error=False)
        return await self.get(gen_id)

    async def wait(
        self,
        generation: str | Generation,
        *,
        timeout: float | None = None,
        on_event: EventCallback | None = None,
        poll_interval: float = 1.0,
        raise_on_error: bool = True,
        use_events: bool = True,
    ) -> Generation:
        """Wait until a generation finishes; return it when it succeeded.

        Follows the event stream (and falls back to polling every ``poll_interval`` s if
        the server has none). ``on_event`` is called with each :class:`Event` of this
        generation: ``media_generation_started``, ``media_generation_progress`` (step,
        total, stage), and the client-side ``media_generation_queued`` (queue_position,
        eta_seconds) - the same events whether they came from the stream or from polling,
        each (stage, step) once and in order, then the ``media_generation_completed`` (or
        ``_cancelled``) event.

        Raises:
            GenerationFailed / GenerationCancelled: it ended so (unless
                ``raise_on_error=False``, which returns it instead).
            GenerationTimeout: ``timeout`` s passed first; it keeps running.
        """
        gen_id = generation_id_of(generation)
        deadline = Deadline(timeout)
        state = WaitState(gen_id, on_event)
        gen: Generation | None = None
        if use_events and self._client._events_supported is not False:
            gen = await self._wait_with_events(state, deadline)
        if gen is None:
            gen = await self._wait_polling(state, deadline, poll_interval)
        return finish(gen, raise_on_error)

    async def _wait_with_events(self, state: WaitState, deadline: Deadline) -> Generation | None:
        """The finished generation, or None if the server has no event stream."""
        stream = self._client._iter_events(None, deadline=deadline)
        async with aclosing(stream):
            while True:
                try:
                    item = await anext(stream)
                except StopAsyncIteration:
                    raise state.timeout_error(deadline) from None
                except APIError as exc:
                    if exc.status in UNSUPPORTED_STATUSES:
                        self._client._events_supported = False
                        return None
                    raise
                if item is None or state.poll_due():
                    # (re)connected, keep-alive, or a while since we looked: look now, so
                    # nothing that happened while we were not listening is missed.
                    gen = await self.get(state.generation_id)
                    state.polled(gen)
                    if gen.done:
                        return gen
                if item is not None and item.generation_id == state.generation_id:
                    state.event(item)
                    if item.is_terminal:
                        gen = await self.get(state.generation_id)
                        if gen.done:
                            return gen
                if deadline.expired:
                    raise state.timeout_error(deadline)

    async def _wait_polling(
        self, state: WaitState, deadline: Deadline, poll_interval: float
    ) -> Generation:
        while True:
            gen = await self.get(state.generation_id)
            state.polled(gen)
            if gen.done:
                return gen
            if deadline.expired:
                raise state.timeout_error(deadline)
            await asyncio.sleep(deadline.cap(poll_interval))
