"""What the sync and async clients share: configuration, request bodies, backoff and retry
decisions, and the bookkeeping of waiting for a generation. No I/O here."""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from editserve._version import __version__
from editserve.client._exceptions import (
    ConnectionError,
    GenerationCancelled,
    GenerationFailed,
    GenerationTimeout,
    ServerError,
)
from editserve.client._types import (
    CANCELLED_STATUSES,
    FAILED_STATUSES,
    Event,
    EventType,
    Generation,
)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_MODEL = "qwen-image-edit-plus"
DEFAULT_GENERATE_MODEL = "qwen-image"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DEFAULT_MAX_RETRIES = 2
# A quiet event stream is reopened after this long (the server sends a keep-alive every
# 15 s, so silence this long means a dead connection).
STREAM_IDLE_SECONDS = 45.0
# While waiting on the event stream, still look at the generation this often, in case an
# event was missed (e.g. by a server that does not replay).
SAFETY_POLL_SECONDS = 15.0
# Status codes meaning "this server has no such endpoint" (the hosted API has no uploads).
UNSUPPORTED_STATUSES = (404, 405, 501)
USER_AGENT = f"editserve-client/{__version__} httpx/{httpx.__version__}"

EventCallback = Callable[[Event], Any]
TimeoutTypes = float | httpx.Timeout | None

QUEUED_EVENT = "media_generation_queued"
"""A client-side event type: ``wait(on_event=...)`` reports queue position with it."""


def resolve_base_url(base_url: str | None) -> str:
    """The server root from the argument, ``EDITSERVE_URL`` or the default.

    A trailing ``/api/ai`` or ``/api`` (how the hosted API documents its base URL) is
    dropped: paths are always ``/api/ai/...`` from the root.
    """
    url = (base_url or os.environ.get("EDITSERVE_URL") or DEFAULT_BASE_URL).strip()
    if "://" not in url:
        url = "http://" + url
    url = url.rstrip("/")
    for suffix in ("/api/ai", "/api"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
            break
    return url


def resolve_api_key(api_key: str | None) -> str | None:
    """The key from the argument, ``EDITSERVE_API_KEY`` or ``OXEN_API_KEY``."""
    return api_key or os.environ.get("EDITSERVE_API_KEY") or os.environ.get("OXEN_API_KEY") or None


def default_headers(api_key: str | None, extra: dict[str, str] | None) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    headers.update(extra or {})
    return headers


def as_timeout(timeout: TimeoutTypes) -> httpx.Timeout:
    return timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)


def with_read_timeout(base: httpx.Timeout, read: float | None) -> httpx.Timeout:
    """``base`` with another read timeout (long calls: the sync edit, the event stream)."""
    return httpx.Timeout(connect=base.connect, read=read, write=base.write, pool=base.pool)


def same_origin(url: str, base_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 8.0) -> float:
    """Exponential backoff with jitter: ~0.5 s, 1 s, 2 s, ... capped at ``cap``."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay * (0.5 + random.random() / 2)


def is_retryable(exc: httpx.TransportError) -> bool:
    """Connection failures are retried; so are dropped connections and read timeouts,
    since every POST carries an Idempotency-Key."""
    return isinstance(exc, httpx.TransportError) and not isinstance(
        exc, (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.DecodingError)
    )


def connection_error(
    exc: httpx.TransportError, method: str, url: str, attempts: int
) -> ConnectionError:
    """The error for a request that failed to connect ``attempts`` times."""
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


def event_stream_headers(last_event_id: str | None) -> dict[str, str]:
    """The headers that open (or reopen, after ``last_event_id``) ``GET /api/events``."""
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    return headers


def event_stream_error(
    exc: httpx.TransportError | ServerError, failures: int, max_retries: int, url: str
) -> Exception | None:
    """What ends the event stream after its ``failures``-th failure in a row, ``exc``: the
    error to raise (``exc`` itself for a server error), or ``None`` to reconnect."""
    if isinstance(exc, httpx.TransportError) and not is_retryable(exc):
        return ConnectionError(f"event stream: {exc}", url=url)
    if failures <= max_retries:
        return None
    if isinstance(exc, ServerError):
        return exc
    return ConnectionError(
        f"event stream: {exc or type(exc).__name__} (after {failures} attempts)", url=url
    )


def idempotency_headers(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key or f"es-client-{uuid.uuid4()}"}


def generation_id_of(generation: str | Generation) -> str:
    return generation.generation_id if isinstance(generation, Generation) else str(generation)


def model_body(
    *, model: str, prompt: str, input_image: list[str] | None, options: dict[str, Any]
) -> dict[str, Any]:
    """The JSON body of an edit, generate or enqueue call: ``options`` are the model
    parameters (the named ones, then any others); those left as ``None`` are not sent, so
    the server's defaults apply. A generate call has no ``input_image``."""
    body: dict[str, Any] = {"model": model, "prompt": prompt}
    if input_image is not None:
        body["input_image"] = input_image
    body.update({k: v for k, v in options.items() if v is not None})
    return body


# A LoRA as the client takes it: "PATH" or "PATH:SCALE", (path, scale), or a
# {"path": ..., "scale": ...} mapping.
LoraInput = str | tuple[str, float] | Mapping[str, Any]


def lora_list(loras: Sequence[LoraInput] | None) -> list[dict[str, Any]] | None:
    """The ``loras`` request field: ``[{"path": ..., "scale": ...}]`` (None: not sent)."""
    if loras is None:
        return None
    items: list[dict[str, Any]] = []
    for lora in loras:
        if isinstance(lora, str):
            items.append(parse_lora(lora))
        elif isinstance(lora, tuple):
            items.append({"path": lora[0], "scale": float(lora[1])})
        else:
            items.append(dict(lora))
    return items


def parse_lora(text: str) -> dict[str, Any]:
    """``PATH[:SCALE]`` (``style:0.8``, ``owner/repo/file.safetensors:1.5``, a URL) as
    ``{"path", "scale"?}``; a tail after the last ``:`` that is not a number is part of
    the path."""
    path, sep, tail = text.rpartition(":")
    if sep and path:
        try:
            return {"path": path, "scale": float(tail)}
        except ValueError:
            pass
    return {"path": text}


def status_param(status: str | Iterable[str] | None) -> str | None:
    if status is None or isinstance(status, str):
        return status
    return ",".join(status)


def drop_none(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class Deadline:
    """A point in time a wait must end by (``None``: never)."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.at = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        return None if self.at is None else max(0.0, self.at - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at

    def cap(self, seconds: float) -> float:
        remaining = self.remaining()
        return seconds if remaining is None else min(seconds, remaining)


# Where a stage comes within one step (stages not named here rank as denoising).
STAGE_ORDER = {
    "encode": 0, "encoding": 0, "denoise": 1, "denoising": 1,
    "decode": 2, "decoding": 2, "store": 3, "storing": 3,
}  # fmt: skip
_ENDED = (1 << 62,)  # the rank of a generation's last event, beyond any attempt


class WaitState:
    """Bookkeeping of one ``queue.wait``: forwards events to the callback, turns polled
    generations into the same events (so a progress bar works with or without the event
    stream), and decides how the wait ends.

    The stream and the safety polls overlap (a poll may see a step whose event is still on
    its way, a reconnection replays), so each event is ranked (attempt, phase, step, stage)
    and only one that moves the generation forward reaches the callback: each (stage, step)
    once, in order, never backwards (a new attempt after a lost worker starts afresh)."""

    def __init__(self, generation_id: str, on_event: EventCallback | None) -> None:
        self.generation_id = generation_id
        self.on_event = on_event
        self.last_poll = 0.0
        self.last_status: str | None = None
        self._attempt = 1
        self._rank: tuple[int, ...] = ()

    def event(self, event: Event) -> None:
        """A real event of this generation arrived."""
        self.last_status = event.status or self.last_status
        attempt = event.data.get("attempt") if isinstance(event.data, dict) else None
        started = event.type == EventType.STARTED and isinstance(attempt, int)
        self._emit(event, attempt if started else None)

    def polled(self, gen: Generation) -> None:
        """A fresh GET of the generation: report what moved forward as an event."""
        self.last_poll = time.monotonic()
        self.last_status = gen.status
        # `attempts` counts the claims so far: a queued generation waits for the next one.
        attempt = None if gen.attempts is None else gen.attempts + (gen.status == "queued")
        base: dict[str, Any] = {
            "generation_id": gen.generation_id,
            "model": gen.model_name,
            "status": gen.status,
        }
        if gen.done:  # the end, as the stream says it (if the stream has not already)
            cancelled = gen.status in CANCELLED_STATUSES
            ended = {"url": gen.result_url} if gen.succeeded else {"error": gen.error_message}
            data = base if cancelled else {**base, **ended}
            self._emit(Event(EventType.CANCELLED if cancelled else EventType.COMPLETED, data))
        elif gen.status == "queued":
            data = {**base, "queue_position": gen.queue_position, "eta_seconds": gen.eta_seconds}
            self._emit(Event(QUEUED_EVENT, data), attempt)
        elif gen.progress is not None:
            data = {**base, "step": gen.progress.step, "total": gen.progress.total}
            data["stage"] = gen.stage
            self._emit(Event(EventType.PROGRESS, data), attempt)
        else:
            self._emit(Event(EventType.STARTED, {**base, "stage": gen.stage}), attempt)

    def poll_due(self) -> bool:
        return time.monotonic() - self.last_poll >= SAFETY_POLL_SECONDS

    def _emit(self, event: Event, attempt: int | None = None) -> None:
        """Pass the event on if it moves the generation forward (see the class)."""
        rank = self._rank_of(event, attempt)
        if rank is not None:
            if rank <= self._rank:
                return
            self._rank = rank
        if self.on_event is not None:
            self.on_event(event)

    def _rank_of(self, event: Event, attempt: int | None) -> tuple[int, ...] | None:
        """Where the event stands in the generation's life (None: not a step of it)."""
        if event.is_terminal:
            return _ENDED
        if attempt is not None and attempt > self._attempt:
            self._attempt = attempt
        now = attempt if attempt is not None else self._attempt
        if event.type == QUEUED_EVENT:  # the queue position only goes down
            position = event.data.get("queue_position")
            return (now, 0, -position if isinstance(position, int) else 0, 0)
        if event.type == EventType.STARTED:
            return (now, 1, 0, 0)
        if event.type == EventType.PROGRESS:
            step = event.step if isinstance(event.step, int) else 0
            return (now, 2, step, STAGE_ORDER.get(event.stage or "", 1))
        return None

    def timeout_error(self, deadline: Deadline) -> GenerationTimeout:
        status = self.last_status or "running"
        return GenerationTimeout(
            f"generation {self.generation_id} is still {status} after {deadline.timeout:g} s",
            generation_id=self.generation_id,
            generation_status=self.last_status,
        )


def finish(gen: Generation, raise_on_error: bool) -> Generation:
    """Return a succeeded generation; raise for a failed or cancelled one (if asked)."""
    if raise_on_error and gen.status in FAILED_STATUSES:
        raise GenerationFailed(
            gen.error_message or "the generation failed", generation=gen, type="generation_failed"
        )
    if raise_on_error and gen.status in CANCELLED_STATUSES:
        raise GenerationCancelled(
            f"generation {gen.generation_id} was cancelled", generation=gen, type="cancelled"
        )
    return gen


def edit_result_json(gen: Generation, b64: str | None) -> dict[str, Any]:
    """The sync-edit response for a generation that was finished by waiting on the queue
    (after a 504 from the server)."""
    image: dict[str, Any] = {"b64_json": b64} if b64 is not None else {"url": gen.result_url}
    return {
        "model": gen.model_name,
        "created": gen.completed_at or int(time.time()),
        "images": [image],
        "generation_id": gen.generation_id,
        "seed": gen.seed,
        "width": gen.width,
        "height": gen.height,
        "timings": gen.timings,
    }
