"""The server's connection bounds (api/server.py): a real uvicorn server on loopback with the
guarded protocol, driven by raw sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn

from editserve.api import server as server_module
from editserve.api.server import (
    HEADROOM_FILES,
    GuardedHttpToolsProtocol,
    connection_limit,
    guarded_protocol,
    raise_open_file_limit,
    server_options,
)
from editserve.core.limits import NodeLimits

pytestmark = pytest.mark.timeout(60)

TIMEOUT = 0.6  # the header timeout of these servers
GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers "ok"; /slow only after three header timeouts."""
    assert scope["type"] == "http"
    while (await receive()).get("more_body"):
        pass
    if scope["path"] == "/slow":
        await asyncio.sleep(3 * TIMEOUT)
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


@asynccontextmanager
async def serving(
    *, header_timeout: float = TIMEOUT, max_header_bytes: int = 2048, keep_alive: int = 30
) -> AsyncIterator[int]:
    """A server on a free port (its port), keep-alive long enough not to interfere."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        http=guarded_protocol(header_timeout, max_header_bytes),
        timeout_keep_alive=keep_alive,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and not task.done(), "the server did not start"
        await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One response (status, body); (0, b"") when the server closed without one."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as eof:
        assert eof.partial == b"", eof.partial
        return 0, b""
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length")
    )
    return int(lines[0].split()[1]), await reader.readexactly(length)


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> float:
    """Seconds until the server closed the connection (after whatever it sent last)."""
    start = time.monotonic()
    await asyncio.wait_for(reader.read(), timeout=within)  # to EOF
    return time.monotonic() - start


# --- the header timeout -----------------------------------------------------------------


async def test_a_half_sent_request_head_is_answered_408_and_closed() -> None:
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.monotonic()
        writer.write(b"GET /api/ai/queue HTTP/1.1\r\nHost: t\r\n")  # and nothing more
        status, body = await asyncio.wait_for(read_response(reader), timeout=5 * TIMEOUT)
        waited = time.monotonic() - start
        assert status == 408 and b"in time" in body
        assert TIMEOUT * 0.8 <= waited < TIMEOUT * 4
        assert await reader.read() == b""  # closed
        writer.close()


async def test_a_connection_that_sends_nothing_is_closed() -> None:
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        waited = await closed_by_server(reader, within=5 * TIMEOUT)
        assert TIMEOUT * 0.8 <= waited < TIMEOUT * 4
        writer.close()


async def test_a_slow_but_complete_head_is_served() -> None:
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for piece in (b"GET / HT", b"TP/1.1\r\n", b"Host: t\r\n", b"X-Slow: 1\r\n", b"\r\n"):
            writer.write(piece)
            await asyncio.sleep(TIMEOUT / 8)  # the whole head in about 5/8 of the timeout
        assert await asyncio.wait_for(read_response(reader), timeout=5) == (200, b"ok")
        writer.close()


async def test_a_response_slower_than_the_timeout_is_not_cut() -> None:
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        assert await asyncio.wait_for(read_response(reader), timeout=10) == (200, b"ok")
        writer.close()


async def test_the_next_head_is_timed_from_the_previous_response() -> None:
    async with serving() as port:  # keep-alive 30 s: only the header timeout closes it
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(3):  # keep-alive requests, each within the timeout of the last answer
            writer.write(GET)
            assert await asyncio.wait_for(read_response(reader), timeout=5) == (200, b"ok")
            await asyncio.sleep(TIMEOUT / 2)
        writer.write(b"GET / HTTP/1.1\r\n")  # then half a head: uvicorn's keep-alive timer
        status, _ = await asyncio.wait_for(read_response(reader), timeout=5 * TIMEOUT)
        assert status == 408  # is off from the first byte, ours is not
        writer.close()


async def test_pipelined_requests_are_all_answered() -> None:
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(GET * 3)
        for _ in range(3):
            assert await asyncio.wait_for(read_response(reader), timeout=5) == (200, b"ok")
        writer.close()


# --- the head size ----------------------------------------------------------------------


def head_of(size: int) -> bytes:
    """A request head of exactly ``size`` bytes."""
    start, end = b"GET / HTTP/1.1\r\nHost: t\r\nX-Pad: ", b"\r\n\r\n"
    return start + b"a" * (size - len(start) - len(end)) + end


@pytest.mark.parametrize("pieces", [1, 7])
async def test_a_head_over_max_header_bytes_is_431(pieces: int) -> None:
    async with serving(max_header_bytes=2048) as port:
        for size, expected in ((2048, 200), (2049, 431)):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            head = head_of(size)
            step = -(-len(head) // pieces)
            for at in range(0, len(head), step):
                writer.write(head[at : at + step])
                await writer.drain()
                await asyncio.sleep(0.01)
            status, _ = await asyncio.wait_for(read_response(reader), timeout=5)
            assert status == expected, size
            writer.close()


async def test_a_head_that_never_ends_is_refused_once_over_the_limit() -> None:
    async with serving(max_header_bytes=2048, header_timeout=30) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nX-Endless: ")
        answer = asyncio.create_task(read_response(reader))
        for _ in range(100):  # 100 KB in all, no end of head: refused long before
            if answer.done():
                break
            try:
                writer.write(b"a" * 1024)
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(0.005)
        status, _ = await asyncio.wait_for(answer, timeout=5)
        assert status == 431
        writer.close()


async def test_a_body_is_not_counted_as_head() -> None:
    async with serving(max_header_bytes=2048) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = b"x" * 100_000
        writer.write(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + body)
        assert await asyncio.wait_for(read_response(reader), timeout=5) == (200, b"ok")
        writer.write(GET)  # and the next head on the connection is counted afresh
        assert await asyncio.wait_for(read_response(reader), timeout=5) == (200, b"ok")
        writer.close()


# --- uvicorn's options and the open-file limit ----------------------------------------------


def test_the_settings_become_uvicorns_options() -> None:
    limits = NodeLimits(
        header_timeout_seconds=3.5, max_header_bytes=4096, keep_alive_seconds=7, max_connections=900
    )
    options = server_options(limits, open_files=100_000)
    protocol = options["http"]
    assert issubclass(protocol, GuardedHttpToolsProtocol)
    assert (protocol.header_timeout, protocol.max_header_bytes) == (3.5, 4096)
    assert options["limit_concurrency"] == 900
    assert options["timeout_keep_alive"] == 7
    assert options["h11_max_incomplete_event_size"] == 4096
    uvicorn.Config(app, **options).load()  # uvicorn takes them as they are


def test_the_connection_cap_fits_the_open_file_limit() -> None:
    assert connection_limit(2048, None) == 2048
    assert connection_limit(2048, 1_000_000) == 2048
    assert connection_limit(2048, 1024) == 1024 - HEADROOM_FILES


def test_the_soft_open_file_limit_is_raised_to_the_hard_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import resource

    limits = {"now": (1024, 65536)}
    monkeypatch.setattr(resource, "getrlimit", lambda which: limits["now"])

    def setrlimit(which: int, value: tuple[int, int]) -> None:
        limits["now"] = value

    monkeypatch.setattr(resource, "setrlimit", setrlimit)
    assert raise_open_file_limit() == 65536
    assert limits["now"] == (65536, 65536)
    # an "unlimited" hard limit: the largest soft limit the system takes
    limits["now"] = (256, resource.RLIM_INFINITY)
    refused = set(server_module.UNLIMITED_TRIES[:1])

    def picky(which: int, value: tuple[int, int]) -> None:
        if value[0] in refused:
            raise ValueError("not allowed")
        limits["now"] = value

    monkeypatch.setattr(resource, "setrlimit", picky)
    assert raise_open_file_limit() == server_module.UNLIMITED_TRIES[1]


def test_the_real_limit_is_raised() -> None:
    import resource

    raise_open_file_limit()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == hard or hard == resource.RLIM_INFINITY


async def test_a_head_over_the_limit_during_a_response_only_closes() -> None:
    """A pipelined head over the limit while a response is going out: no 431 written into
    that response, the connection is closed."""
    async with serving(max_header_bytes=2048) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n" + b"GET / HTTP/1.1\r\nX: " + b"a" * 4096
        )
        rest = await asyncio.wait_for(reader.read(), timeout=10)
        assert b"431" not in rest
        writer.close()
