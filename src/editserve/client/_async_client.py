"""The asynchronous client: :class:`AsyncClient`, its connection pool, retries and events.

``_client.py`` (:class:`Client`) is generated from ``_async_client.py`` by
``scripts/unasync.py``: edit the source, then run the script.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from functools import partial
from typing import Any

import httpx

from editserve.client._async_admin import Admin, Usage
from editserve.client._async_batches import Batches
from editserve.client._async_images import Images
from editserve.client._async_listings import Generations, Models, Uploads
from editserve.client._async_resources import Queue
from editserve.client._base import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    STREAM_IDLE_SECONDS,
    UNSUPPORTED_STATUSES,
    Deadline,
    TimeoutTypes,
    as_timeout,
    backoff_delay,
    connection_error,
    default_headers,
    event_stream_error,
    event_stream_headers,
    is_retryable,
    resolve_api_key,
    resolve_base_url,
    same_origin,
    with_read_timeout,
)
from editserve.client._exceptions import APIError, ServerError, error_from_response
from editserve.client._inputs import ImageInput, LocalImage, as_list, classify
from editserve.client._sse import SSEDecoder
from editserve.client._types import Event

__all__ = ["AsyncClient"]


class AsyncClient:
    """The asyncio twin of :class:`Client` (same arguments; methods are coroutines).

    ::

        from editserve import AsyncClient

        async with AsyncClient() as client:  # EDITSERVE_URL / EDITSERVE_API_KEY from the env
            result = await client.images.edit(prompt="make it snow", input_image="cat.png")
            await result.asave("snowy-cat.png")

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
        transport: an ``httpx.AsyncBaseTransport``, e.g. to test against an app in-process.
        headers: extra headers for every request.
        upload_inputs: how local images (paths, bytes, PIL images) become inputs:
            ``"auto"`` uploads them and falls back to ``data:`` URIs when the server has
            no upload endpoint (the hosted API); ``"upload"`` or ``"data_uri"`` force one.
        http_client: an ``httpx.AsyncClient`` to use as is (then ``timeout``, ``transport`` and
            ``headers`` are not applied to it; the key still is, per request).
    """

    images: Images
    queue: Queue
    generations: Generations
    models: Models
    uploads: Uploads
    usage: Usage
    admin: Admin
    batches: Batches

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: dict[str, str] | None = None,
        upload_inputs: str = "auto",
        http_client: httpx.AsyncClient | None = None,
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
        self._http = http_client or httpx.AsyncClient(
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
        self.usage = Usage(self)
        self.admin = Admin(self)
        self.batches = Batches(self)

    def __repr__(self) -> str:
        return f"AsyncClient(base_url={self.base_url!r})"

    # --- lifecycle -----------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the connection pool (if this client created it)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- events --------------------------------------------------------------------------
    async def events(
        self, last_event_id: str | int | None = None, *, reconnect: bool = True
    ) -> AsyncIterator[Event]:
        """Iterate over this key's events from ``GET /api/events``, forever.

        A dropped or silent connection is reopened with ``Last-Event-ID``, so no event is
        lost or repeated. Pass ``last_event_id`` to replay the events after that id. Stop
        by breaking out of the loop.

        ::

            async for event in client.events():
                print(event.type, event.generation_id, event.data)
        """
        start = None if last_event_id is None else str(last_event_id)
        async with aclosing(self._iter_events(start, reconnect=reconnect)) as stream:
            async for item in stream:
                if item is not None:
                    yield item

    async def _iter_events(
        self,
        last_event_id: str | None,
        *,
        deadline: Deadline | None = None,
        reconnect: bool = True,
    ) -> AsyncGenerator[Event | None, None]:
        """Events, plus ``None`` on each (re)connection and keep-alive (a chance for the
        caller to look around). Ends when ``deadline`` expires or, without ``reconnect``,
        when the server closes the stream."""
        decoder = SSEDecoder(last_event_id)
        failures = 0
        while True:
            read = STREAM_IDLE_SECONDS if deadline is None else deadline.cap(STREAM_IDLE_SECONDS)
            if deadline is not None and deadline.expired:
                return
            try:
                async with self._http.stream(
                    "GET",
                    "/api/events",
                    headers=event_stream_headers(decoder.last_event_id),
                    timeout=with_read_timeout(self.timeout, max(read, 0.01)),
                ) as response:
                    if response.is_error:
                        await response.aread()
                        raise error_from_response(response)
                    failures = 0
                    yield None
                    async for line in response.aiter_lines():
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
                failures += 1
                error = event_stream_error(exc, failures, self.max_retries, self.base_url)
                if error is exc:
                    raise
                if error is not None:
                    raise error from exc
                await asyncio.sleep(backoff_delay(failures))
                continue
            if not reconnect:
                return
            if decoder.retry is not None:
                await asyncio.sleep(decoder.retry / 1000)

    # --- plumbing ------------------------------------------------------------------------
    async def _send(
        self, build: Callable[[], httpx.Request], method: str, url: str, follow_redirects: bool
    ) -> httpx.Response:
        """Send ``build()`` (a fresh request for each attempt), retrying on connection
        errors with backoff; raise the typed error for a 4xx/5xx answer. ``method`` and
        ``url`` name the request in a :class:`ConnectionError`."""
        attempt = 0
        while True:
            try:
                response = await self._http.send(build(), follow_redirects=follow_redirects)
            except httpx.TransportError as exc:
                attempt += 1
                if attempt > self.max_retries or not is_retryable(exc):
                    raise connection_error(exc, method, url, attempt) from exc
                await asyncio.sleep(backoff_delay(attempt))
                continue
            if response.is_error:
                raise error_from_response(response)
            return response

    async def _request(
        self,
        method: str,
        path: str,
        *,
        timeout: httpx.Timeout | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with retries on connection errors; raise the typed error for 4xx/5xx."""
        build = partial(
            self._http.build_request, method, path, timeout=timeout or self.timeout, **kwargs
        )
        return await self._send(build, method, path, self._http.follow_redirects)

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self._request(method, path, **kwargs)
        data = response.json()
        if not isinstance(data, dict):
            raise APIError(f"expected a JSON object from {method} {path}", body={"value": data})
        return data

    async def _adownload(self, url: str) -> tuple[bytes, str | None]:
        """GET a file URL; the Bearer key goes only to this server's own URLs."""

        def build() -> httpx.Request:
            request = self._http.build_request("GET", url, timeout=self.timeout)
            if not same_origin(str(request.url), self.base_url):
                request.headers.pop("Authorization", None)
            return request

        response = await self._send(build, "GET", url, follow_redirects=True)
        return response.content, response.headers.get("content-type")

    async def _resolve_inputs(self, value: ImageInput | Sequence[ImageInput]) -> list[str]:
        refs = []
        for index, item in enumerate(as_list(value)):
            ref = classify(item, index)
            refs.append(ref if isinstance(ref, str) else await self._inline_or_upload(ref))
        return refs

    async def _inline_or_upload(self, image: LocalImage) -> str:
        if self.upload_inputs == "data_uri" or (
            self.upload_inputs == "auto" and self._uploads_supported is False
        ):
            return image.data_uri()
        try:
            upload = await self.uploads._create_local(image)
        except APIError as exc:
            if self.upload_inputs == "auto" and exc.status in UNSUPPORTED_STATUSES:
                self._uploads_supported = False
                return image.data_uri()
            raise
        self._uploads_supported = True
        return upload.url
