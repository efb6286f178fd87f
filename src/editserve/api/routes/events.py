"""GET /api/events: the caller's events as Server-Sent Events, read from the events table.

Wire format (byte-exact for media_generation_completed)::

    id: 42\n
    event: media_generation_completed\n
    data: {"generation_id":"…","status":"succeeded","media_type":"image","model":"…","url":"…"}\n
    \n
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Header, Request
from starlette.responses import StreamingResponse

from editserve.api.auth import require_key
from editserve.api.openapi import ERROR_RESPONSES
from editserve.api.services import services, url_builder
from editserve.generations.record import Event
from editserve.protocol import EventData, UrlFor

router = APIRouter(tags=["events"], responses=ERROR_RESPONSES)

KEEP_ALIVE = ": keep-alive\n\n"


def format_event(event: Event, url_for: UrlFor) -> str:
    payload = EventData.of(event, url_for).model_dump(mode="json")
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n"


@router.get("/api/events", response_class=StreamingResponse)
async def events(
    request: Request,
    owner: str = Depends(require_key),
    last_event_id: str | None = Header(default=None),
) -> StreamingResponse:
    """Stream the caller's generation events; replay after Last-Event-ID."""
    feed = services(request).generations.feed
    url_for = url_builder(request)
    after = await feed.start_id(owner, last_event_id)

    async def stream() -> AsyncIterator[str]:
        async for event in feed.follow(owner, after, request.is_disconnected):
            yield KEEP_ALIVE if event is None else format_event(event, url_for)

    return StreamingResponse(
        stream(),
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        },
    )
