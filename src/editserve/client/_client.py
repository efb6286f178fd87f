"""The synchronous client: :class:`Client` and its namespaces."""

from __future__ import annotations

import builtins
import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import closing
from typing import Any

import httpx

from editserve.client._base import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MODEL,
    DEFAULT_TIMEOUT,
    STREAM_IDLE_SECONDS,
    UNSUPPORTED_STATUSES,
    Deadline,
    EventCallback,
    TimeoutTypes,
    WaitState,
    as_timeout,
    backoff_delay,
    default_headers,
    drop_none,
    edit_result_json,
    finish,
    generation_id_of,
    idempotency_headers,
    is_retryable,
    model_body,
    resolve_api_key,
    resolve_base_url,
    same_origin,
    status_param,
    with_read_timeout,
)
from editserve.client._exceptions import (
    APIError,
    ConnectionError,
    GenerationTimeout,
    ServerError,
    error_from_response,
)
from editserve.client._inputs import ImageInput, LocalImage, as_list, classify
from editserve.client._sse import SSEDecoder
from editserve.client._types import (
    EditResult,
    Event,
    Generation,
    GenerationPage,
    Model,
    Upload,
)

__all__ = ["Client"]


class Client:
    """A client for editserve (and the hosted API it is compatible with).

    ::

        from editserve import Client

        with Client() as client:  # EDITSERVE_URL / EDITSERVE_API_KEY from the environment
            result = client.images.edit(prompt="make it snow", input_image="cat.png")
            result.save("snowy-cat.png")

    Args:
        base_url: the server root, e.g. ``http://127.0.0.1:8000`` or
            ``https://hub.oxen.ai``. Default: ``$EDITSERVE_URL``, else
            ``http://127.0.0.1:8000``.
        api_key: the Bearer key. Default: ``$EDITSERVE_API_KEY``, else ``$OXEN_API_KEY``.
        timeout: seconds (or an ``httpx.Timeout``) for ordinary calls. The sync edit and
            the event stream wait as long as their own ``timeout`` arguments allow.
        max_retries: how often a request is retried after a connection error (with
            exponential backoff). POSTs carry an ``Idempotency-Key``, so a retry never
            enqueues twice.
        transport: an ``httpx.BaseTransport``, e.g. to test against an app in-process.
        headers: extra headers for every request.
        upload_inputs: how local images (paths, bytes, PIL images) become inputs:
            ``"auto"`` uploads them and falls back to ``data:`` URIs when the server has
            no upload endpoint (the hosted API); ``"upload"`` or ``"data_uri"`` force one.
        http_client: an ``httpx.Client`` to use as is (then ``timeout``, ``transport`` and
            ``headers`` are not applied to it; the key still is, per request).
    """

    images: Images
    queue: Queue
    generations: Generations
    models: Models
    uploads: Uploads

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        transport: httpx.BaseTransport | None = None,
        headers: dict[str, str] | None = None,
        upload_inputs: str = "auto",
        http_client: httpx.Client | None = None,
    ) -> None:
        if upload_inputs not in ("auto", "upload", "data_uri"):
            raise ValueError("upload_inputs: must be 'auto', 'upload' or 'data_uri'")
        self.base_url = resolve_base_url(base_url)
        self.api_key = resolve_api_key(api_key)
        self.timeout = as_timeout(timeout)
        self.max_retries = max(0, int(max_retries))
        self.upload_inputs = upload_inputs
        self._headers = default_headers(self.api_key, headers)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            base_url=self.base_url,
            headers=self._headers,
            timeout=self.timeout,
            transport=transport,
            follow_redirects=True,
        )
        self._uploads_supported: bool | None = None
        self._events_supported: bool | None = None
        self.images = Images(self)
        self.queue = Queue(self)
        self.generations = Generations(self)
        self.models = Models(self)
        self.uploads = Uploads(self)

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"

    # --- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection pool (if this client created it)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- events --------------------------------------------------------------------------
    def events(
        self, last_event_id: str | int | None = None, *, reconnect: bool = True
    ) -> Iterator[Event]:
        """Iterate over this key's events from ``GET /api/events``, forever.

        A dropped or silent connection is reopened with ``Last-Event-ID``, so no event is
        lost or repeated. Pass ``last_event_id`` to replay the events after that id. Stop
        by breaking out of the loop.

        ::

            for event in client.events():
                print(event.type, event.generation_id, event.data)
        """
        start = None if last_event_id is None else str(last_event_id)
        with closing(self._iter_events(start, reconnect=reconnect)) as stream:
            for item in stream:
                if item is not None:
                    yield item

    def _iter_events(
        self,
        last_event_id: str | None,
        *,
        deadline: Deadline | None = None,
        reconnect: bool = True,
    ) -> Generator[Event | None, None, None]:
        """Events, plus ``None`` on each (re)connection and keep-alive (a chance for the
        caller to look around). Ends when ``deadline`` expires or, without ``reconnect``,
        when the server closes the stream."""
        decoder = SSEDecoder(last_event_id)
        failures = 0
        while True:
            read = STREAM_IDLE_SECONDS if deadline is None else deadline.cap(STREAM_IDLE_SECONDS)
            if deadline is not None and deadline.expired:
                return
            headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
            if decoder.last_event_id:
                headers["Last-Event-ID"] = decoder.last_event_id
            try:
                with self._http.stream(
                    "GET",
                    "/api/events",
                    headers=headers,
                    timeout=with_read_timeout(self.timeout, max(read, 0.01)),
                ) as response:
                    if response.is_error:
                        response.read()
                        raise error_from_response(response)
                    failures = 0
                    yield None
                    for line in response.iter_lines():
                        event = decoder.feed(line)
                        if event is not None:
                            yield event
                        elif line.startswith(":"):
                            yield None
                        if deadline is not None and deadline.expired:
                            return
            except httpx.ReadTimeout:
                pass  # a silent stream: reopen it
            except (httpx.TransportError, ServerError) as exc:
                if isinstance(exc, httpx.TransportError) and not is_retryable(exc):
                    raise ConnectionError(f"event stream: {exc}", url=self.base_url) from exc
                failures += 1
                if failures > self.max_retries:
                    if isinstance(exc, ServerError):
                        raise
                    raise ConnectionError(
                        f"event stream: {exc or type(exc).__name__} (after {failures} attempts)",
                        url=self.base_url,
                    ) from exc
                time.sleep(backoff_delay(failures))
                continue
            if not reconnect:
                return
            if decoder.retry is not None:
                time.sleep(decoder.retry / 1000)

    # --- plumbing ------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        timeout: httpx.Timeout | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with retries on connection errors; raise the typed error for 4xx/5xx."""
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, path, timeout=timeout or self.timeout, **kwargs
                )
            except httpx.TransportError as exc:
                attempt += 1
                if attempt > self.max_retries or not is_retryable(exc):
                    raise _connection_error(exc, method, path, attempt) from exc
                time.sleep(backoff_delay(attempt))
                continue
            if response.is_error:
                raise error_from_response(response)
            return response

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        data = self._request(method, path, **kwargs).json()
        if not isinstance(data, dict):
            raise APIError(f"expected a JSON object from {method} {path}", body={"value": data})
        return data

    def _download(self, url: str) -> tuple[bytes, str | None]:
        """GET a file URL; the Bearer key goes only to this server's own URLs."""
        attempt = 0
        while True:
            request = self._http.build_request("GET", url, timeout=self.timeout)
            if not same_origin(str(request.url), self.base_url):
                request.headers.pop("Authorization", None)
            try:
                response = self._http.send(request, follow_redirects=True)
            except httpx.TransportError as exc:
                attempt += 1
                if attempt > self.max_retries or not is_retryable(exc):
                    raise _connection_error(exc, "GET", url, attempt) from exc
                time.sleep(backoff_delay(attempt))
                continue
            if response.is_error:
                raise error_from_response(response)
            return response.content, response.headers.get("content-type")

    def _resolve_inputs(self, value: ImageInput | Sequence[ImageInput]) -> list[str]:
        refs = []
        for index, item in enumerate(as_list(value)):
            ref = classify(item, index)
            refs.append(ref if isinstance(ref, str) else self._inline_or_upload(ref))
        return refs

    def _inline_or_upload(self, image: LocalImage) -> str:
        if self.upload_inputs == "data_uri" or (
            self.upload_inputs == "auto" and self._uploads_supported is False
        ):
            return image.data_uri()
        try:
            upload = self.uploads._create_local(image)
        except APIError as exc:
            if self.upload_inputs == "auto" and exc.status in UNSUPPORTED_STATUSES:
                self._uploads_supported = False
                return image.data_uri()
            raise
        self._uploads_supported = True
        return upload.url


def _connection_error(exc: httpx.TransportError, method: str, url: str, attempts: int) -> Exception:
    what = (
        "timed out" if isinstance(exc, httpx.TimeoutException) else str(exc) or type(exc).__name__
    )
    full_url = str(exc.request.url) if _has_request(exc) else url
    return ConnectionError(
        f"{method} {full_url}: {what} (after {attempts} attempt{'s' if attempts != 1 else ''})",
        url=full_url,
    )


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018 - raises RuntimeError when unset
    except RuntimeError:
        return False
    return True


class _Resource:
    def __init__(self, client: Client) -> None:
        self._client = client


class Images(_Resource):
    """``client.images``: the synchronous edit endpoint."""

    def edit(
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
        response_format: str = "url",
        target_namespace: str | None = None,
        timeout: float | None = None,
        idempotency_key: str | None = None,
        **params: Any,
    ) -> EditResult:
        """Edit 1-3 images and wait for the result (``POST /api/ai/images/edit``).

        ``input_image`` takes URLs, local paths, bytes, binary files or PIL images (one or
        a list); local ones are uploaded (or sent inline) for you. Parameters left as
        ``None`` take the server's defaults; other model parameters go in ``**params``.

        ``timeout`` bounds the whole wait (``None``: no limit). When the server stops
        waiting first (504), the client keeps following the generation on the queue.

        Raises:
            InvalidRequestError: bad parameters or input images (the detail names them).
            GenerationFailed: the generation failed.
            GenerationTimeout: ``timeout`` expired; ``e.generation_id`` still runs.
        """
        deadline = Deadline(timeout)
        body = model_body(
            model=model,
            prompt=prompt,
            input_image=self._client._resolve_inputs(input_image),
            aspect_ratio=aspect_ratio,
            negative_prompt=negative_prompt,
            output_format=output_format,
            seed=seed,
            num_inference_steps=num_inference_steps,
            true_cfg_scale=true_cfg_scale,
            target_namespace=target_namespace,
            params=params,
        )
        if response_format != "url":
            body["response_format"] = response_format
        try:
            data = self._client._json(
                "POST",
                "/api/ai/images/edit",
                json=body,
                headers=idempotency_headers(idempotency_key),
                timeout=with_read_timeout(self._client.timeout, deadline.remaining()),
            )
        except GenerationTimeout as exc:
            if exc.generation_id is None or deadline.expired:
                raise
            gen = self._client.queue.wait(exc.generation_id, timeout=deadline.remaining())
            b64 = None
            if response_format == "b64_json":
                import base64

                b64 = base64.b64encode(gen.read_bytes()).decode()
            data = edit_result_json(gen, b64)
        return EditResult.from_json(data, client=self._client)


class Queue(_Resource):
    """``client.queue``: enqueue, inspect, cancel and wait for generations."""

    def submit(
        self,
        *,
        prompt: str,
        input_image: ImageInput | Sequence[ImageInput],
        model: str = DEFAULT_MODEL,
        num_generations: int = 1,
        aspect_ratio: str | None = None,
        negative_prompt: str | None = None,
        output_format: str | None = None,
        seed: int | None = None,
        num_inference_steps: int | None = None,
        true_cfg_scale: float | None = None,
        target_namespace: str | None = None,
        idempotency_key: str | None = None,
        **params: Any,
    ) -> builtins.list[Generation]:
        """Enqueue ``num_generations`` (1-4) generations (``POST /api/ai/queue``).

        Returns one :class:`Generation` per output image, with only ``generation_id``
        and ``status`` (``queued``) filled in; follow them with :meth:`wait` or
        :meth:`get`. Inputs are as for :meth:`Images.edit`.
        """
        body = model_body(
            model=model,
            prompt=prompt,
            input_image=self._client._resolve_inputs(input_image),
            aspect_ratio=aspect_ratio,
            negative_prompt=negative_prompt,
            output_format=output_format,
            seed=seed,
            num_inference_steps=num_inference_steps,
            true_cfg_scale=true_cfg_scale,
            target_namespace=target_namespace,
            params=params,
        )
        if num_generations != 1:
            body["num_generations"] = num_generations
        data = self._client._json(
            "POST", "/api/ai/queue", json=body, headers=idempotency_headers(idempotency_key)
        )
        return [
            Generation.from_json(item, client=self._client)
            for item in data.get("generations") or []
        ]

    def get(self, generation: str | Generation) -> Generation:
        """One generation, with its status, progress, seed and result URL."""
        gen_id = generation_id_of(generation)
        data = self._client._json("GET", f"/api/ai/queue/{gen_id}")
        return Generation.from_json(data, client=self._client)

    def list(
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
        data = self._client._json("GET", "/api/ai/queue", params=params)
        return [
            Generation.from_json(item, client=self._client)
            for item in data.get("generations") or []
        ]

    def cancel(
        self, generation: str | Generation, *, wait: bool = False, timeout: float | None = 60.0
    ) -> Generation:
        """Cancel a generation (``DELETE /api/ai/queue/{id}``) and return its state.

        A queued generation is cancelled at once; a running one stops at its next
        denoising step: pass ``wait=True`` to wait (up to ``timeout`` s) until it has.
        Cancelling a finished generation changes nothing.
        """
        gen_id = generation_id_of(generation)
        self._client._json("DELETE", f"/api/ai/queue/{gen_id}")
        if wait:
            return self.wait(gen_id, timeout=timeout, raise_on_error=False)
        return self.get(gen_id)

    def wait(
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
        eta_seconds) - the same events whether they came from the stream or from polling.

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
            gen = self._wait_with_events(state, deadline)
        if gen is None:
            gen = self._wait_polling(state, deadline, poll_interval)
        return finish(gen, raise_on_error)

    def _wait_with_events(self, state: WaitState, deadline: Deadline) -> Generation | None:
        """The finished generation, or None if the server has no event stream."""
        stream = self._client._iter_events(None, deadline=deadline)
        with closing(stream):
            while True:
                try:
                    item = next(stream)
                except StopIteration:
                    raise state.timeout_error(deadline) from None
                except APIError as exc:
                    if exc.status in UNSUPPORTED_STATUSES:
                        self._client._events_supported = False
                        return None
                    raise
                if item is None or state.poll_due():
                    # (re)connected, keep-alive, or a while since we looked: look now, so
                    # nothing that happened while we were not listening is missed.
                    gen = self.get(state.generation_id)
                    state.polled(gen)
                    if gen.done:
                        return gen
                if item is not None and item.generation_id == state.generation_id:
                    state.event(item)
                    if item.is_terminal:
                        gen = self.get(state.generation_id)
                        if gen.done:
                            return gen
                if deadline.expired:
                    raise state.timeout_error(deadline)

    def _wait_polling(
        self, state: WaitState, deadline: Deadline, poll_interval: float
    ) -> Generation:
        while True:
            gen = self.get(state.generation_id)
            state.polled(gen)
            if gen.done:
                return gen
            if deadline.expired:
                raise state.timeout_error(deadline)
            time.sleep(deadline.cap(poll_interval))


class Generations(_Resource):
    """``client.generations``: the paginated history of this key's generations."""

    def list(
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
        data = self._client._json("GET", "/api/ai/generations", params=params)
        return GenerationPage.from_json(data, client=self._client)

    def iter_all(
        self,
        *,
        page_size: int = 100,
        status: str | Iterable[str] | None = None,
        model: str | None = None,
    ) -> Iterator[Generation]:
        """Every generation of the history, newest first, fetching pages as needed."""
        page = 1
        while True:
            result = self.list(page=page, page_size=page_size, status=status, model=model)
            yield from result
            if not result.has_next or not result.generations:
                return
            page += 1

    def get(self, generation: str | Generation) -> Generation:
        """One generation of the history (``GET /api/ai/generations/{id}``)."""
        gen_id = generation_id_of(generation)
        data = self._client._json("GET", f"/api/ai/generations/{gen_id}")
        inner = data.get("generation")
        return Generation.from_json(inner if isinstance(inner, dict) else data, client=self._client)


class Models(_Resource):
    """``client.models``: the served models and their request schemas."""

    def list(self) -> builtins.list[Model]:
        """All models (``GET /api/ai/models``)."""
        data = self._client._json("GET", "/api/ai/models")
        return [Model.from_json(item) for item in data.get("data") or []]

    def get(self, model_id: str = DEFAULT_MODEL) -> Model:
        """One model, by id or hub id (``Qwen/Qwen-Image-Edit-2509``)."""
        return Model.from_json(self._client._json("GET", f"/api/ai/models/{model_id}"))


class Uploads(_Resource):
    """``client.uploads``: store input images on the server (an editserve extension)."""

    def create(self, file: ImageInput, *, filename: str | None = None) -> Upload:
        """Upload an image (a path, bytes, a binary file or a PIL image).

        Returns an :class:`Upload` whose ``url`` can be passed as an ``input_image``
        (by this key). Raises :class:`NotFoundError` on servers without uploads.
        """
        ref = classify(file)
        if isinstance(ref, str):
            raise ValueError("uploads.create: give a path, bytes, a file or a PIL image, not a URL")
        if filename:
            ref = LocalImage(data=ref.data, filename=filename, format=ref.format)
        return self._create_local(ref)

    def _create_local(self, image: LocalImage) -> Upload:
        files = {"file": (image.filename, image.data, image.content_type)}
        data = self._client._json(
            "POST", "/api/ai/uploads", files=files, headers=idempotency_headers(None)
        )
        return Upload.from_json(data)
