"""GET /api/events: at most max_event_streams_per_key open per key on a process; one more
is 429, and a stream's slot comes back when it closes, the client going away included."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.inprocess_app import BASE, App, StreamingASGITransport

from editserve.api.routes.events import EventStreamResponse

pytestmark = pytest.mark.timeout(60)


async def open_stream(
    client: httpx.AsyncClient, stack: contextlib.AsyncExitStack
) -> httpx.Response:
    """A stream, followed up to its first bytes (a keep-alive, in half a second): leaving
    ``stack`` is then the client going away."""
    response = await stack.enter_async_context(client.stream("GET", "/api/events"))
    if response.status_code == 200:
        await asyncio.wait_for(response.aiter_raw().__anext__(), timeout=10)
    return response


async def test_one_stream_over_the_cap_is_429_and_a_closed_one_frees_its_slot(
    tmp_path: Path,
) -> None:
    server = App(tmp_path, max_event_streams_per_key=2)
    streams = server.services.generations.feed.streams
    headers = {"Authorization": f"Bearer {server.key}"}
    transport = StreamingASGITransport(server.app)
    client = httpx.AsyncClient(transport=transport, base_url=BASE, headers=headers)
    async with client, contextlib.AsyncExitStack() as first:
        async with contextlib.AsyncExitStack() as second:
            assert (await open_stream(client, first)).status_code == 200
            assert (await open_stream(client, second)).status_code == 200
            owner = next(iter(streams._open))
            assert streams.open_streams(owner) == 2
            refused = await client.get("/api/events")
            assert refused.status_code == 429
            assert refused.headers["retry-after"].isdigit()
            body = refused.json()
            assert body["status_message"] == body["error"]["type"] == "rate_limited"
            assert "event streams" in body["error"]["detail"]
        # the second client went away: its slot comes back, and a new stream opens
        deadline = time.monotonic() + 10
        while streams.open_streams(owner) > 1:
            assert time.monotonic() < deadline, "the closed stream kept its slot"
            await asyncio.sleep(0.05)
        async with contextlib.AsyncExitStack() as third:
            assert (await open_stream(client, third)).status_code == 200
            assert (await client.get("/api/events")).status_code == 429
    deadline = time.monotonic() + 10
    while streams.open_streams(owner):
        assert time.monotonic() < deadline, "closed streams kept their slots"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("started", [True, False])
async def test_the_slot_is_given_back_when_the_client_disconnects(started: bool) -> None:
    """The server's way: a disconnect cancels the stream (ASGI spec 2.3), before or after
    its first event."""
    closed: list[str] = []
    sent: list[dict[str, Any]] = []
    first_sent = asyncio.Event()

    async def forever() -> AsyncIterator[str]:
        try:
            while True:
                yield ": keep-alive\n\n"
                await asyncio.sleep(0.01)
        finally:
            closed.append("stream")

    async def receive() -> dict[str, Any]:
        if started:
            await first_sent.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            first_sent.set()

    response = EventStreamResponse(forever(), lambda: closed.append("slot"))
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}}
    await asyncio.wait_for(response(scope, receive, send), timeout=5)
    assert closed.count("slot") == 1  # given back, whether the stream had started or not
    if started:
        assert sent and "stream" in closed
