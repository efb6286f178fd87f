"""GET /api/events: the caller's events as Server-Sent Events, read from the events table.

Wire format (byte-exact for media_generation_completed)::

    id: 42\n
    event: media_generation_completed\n
    data: {"generation_id":"…","status":"succeeded","media_type":"image","model":"…","url":"…"}\n
    \n
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from editserve.api.auth import require_key
from editserve.api.services import UrlBuilder, services, url_builder
from editserve.generations.record import Event

router = APIRouter(tags=["events"])

# Key order of each event's JSON on the wire; any other keys follow.
_FIELD_ORDER = ("generation_id", "status", "media_type", "model", "url", "error")


def event_payload(event: Event, urls: UrlBuilder) -> dict[str, Any]:
    data = dict(event.data)
    key = data.pop("result_key", None)
    if key:
        data["url"] = urls(key)
    ordered = {name: data.pop(name) for name in _FIELD_ORDER if name in data}
    ordered.update(data)
    return ordered


def format_event(event: Event, urls: UrlBuilder) -> str:
    data = json.dumps(event_payload(event, urls), separators=(",", ":"), ensure_ascii=False)
    return f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n"


def _start_id(header: str | None) -> int | None:
    if header is None:
        return None
    try:
        return max(0, int(header.strip()))
    except ValueError:
        return None


@router.get("/api/events", response_class=StreamingResponse)
async def events(
    request: Request,
    owner: str = Depends(require_key),
    last_event_id: str | None = Header(default=None),
) -> StreamingResponse:
    """Stream the caller's generation events; replay after Last-Event-ID."""
    svc = services(request)
    urls = url_builder(request)
    replay_from = _start_id(last_event_id)
    after: int = (
        replay_from
        if replay_from is not None
        else await run_in_threadpool(svc.store.last_event_id, owner)
    )

    async def stream() -> AsyncIterator[str]:
        nonlocal after
        last_sent = time.monotonic()
        while True:
            batch = await run_in_threadpool(svc.store.events_after, owner, after)
            for event in batch:
                after = event.id
                yield format_event(event, urls)
                last_sent = time.monotonic()
            if not batch:
                if time.monotonic() - last_sent >= svc.settings.sse_keepalive_seconds:
                    yield ": keep-alive\n\n"
                    last_sent = time.monotonic()
                if await request.is_disconnected():
                    return
                # Postgres wakes us on NOTIFY; SQLite just waits: polling stays the guarantee.
                await svc.store.wait_for_events(owner, after, svc.settings.sse_poll_seconds)

    return StreamingResponse(
        stream(),
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        },
    )
