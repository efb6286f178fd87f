"""GET /api/events: the caller's events as Server-Sent Events, read from the events table.

Wire format (byte-exact for media_generation_completed)::

    id: 42\n
    event: media_generation_completed\n
    data: {"generation_id":"…","status":"succeeded","media_type":"image","model":"…","url":"…"}\n
    \n
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from editserve.api.auth import require_key
from editserve.api.context import base_url, services, url_builder
from editserve.api.openapi import ERROR_RESPONSES
from editserve.domain.events import BATCH_COMPLETED
from editserve.domain.record import Event
from editserve.services.wire import EventData, UrlFor

router = APIRouter(tags=["events"], responses=ERROR_RESPONSES)

KEEP_ALIVE = ": keep-alive\n\n"


def format_event(event: Event, url_for: UrlFor) -> str:
    if event.type == BATCH_COMPLETED:  # about a batch: its counts, as stored
        payload = dict(event.data)
    else:
        payload = EventData.of(event, url_for).model_dump(mode="json")
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n"


class FormattedEvents:
    """Each event formatted once per base URL, however many streams send it: a thousand
    subscribers of one key share one serialisation (and one link signature) per event.
    Events never change under their id, so a small LRU of recent ones is enough."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._lines: OrderedDict[tuple[int, str], str] = OrderedDict()

    def get(self, event: Event, base: str, url_for: UrlFor) -> str:
        key = (event.id, base)
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = format_event(event, url_for)
            if len(self._lines) > self._size:
                self._lines.popitem(last=False)
        return line


def formatted_events(request: Request) -> FormattedEvents:
    """This app's cache (one per app: tests run several apps, each on its own store)."""
    state = request.app.state
    if getattr(state, "formatted_events", None) is None:
        state.formatted_events = FormattedEvents()
    cache: FormattedEvents = state.formatted_events
    return cache


class EventStreamResponse(StreamingResponse):
    """A stream that calls ``on_close`` once it is over, however it ends (sent to the end,
    the client went away, cancelled): it gives back the stream's slot."""

    def __init__(self, content: AsyncIterator[str], on_close: Callable[[], None], **kw: Any):
        super().__init__(content, **kw)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()


@router.get("/api/events", response_class=StreamingResponse)
async def events(
    request: Request,
    owner: str = Depends(require_key),
    last_event_id: str | None = Header(default=None),
) -> StreamingResponse:
    """Stream the caller's generation events; replay after Last-Event-ID. A key may have
    max_event_streams_per_key open on one node: one more is a 429 (Retry-After)."""
    feed = services(request).generations.feed
    url_for, base, formatted = url_builder(request), base_url(request), formatted_events(request)
    after = await feed.start_id(owner, last_event_id)
    slot = feed.open_stream(owner)  # given back when the stream ends, however it ends

    async def stream() -> AsyncIterator[str]:
        try:
            async for event in feed.follow(owner, after, request.is_disconnected):
                yield KEEP_ALIVE if event is None else formatted.get(event, base, url_for)
        finally:
            slot.release()

    return EventStreamResponse(
        stream(),
        slot.release,
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        },
    )
