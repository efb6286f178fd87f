"""Holding under abuse, against a real `editserve serve` process (API only, no worker):
half-open connections, too many event streams for one key, a key over its request rate,
an oversized request head.

The server is started with a soft open-file limit of 1,024 (the common default that
stopped a node at 1,024 sockets), which it must raise itself to hold the half-open
sockets below. HALF_OPEN sockets need as many open files in this test process too: its soft
limit is raised up to its hard one, and the count sized down, with a warning, where even
the hard limit is too low.
"""

from __future__ import annotations

import contextlib
import resource
import selectors
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fixtures.support import LiveServer, start_server, stop_server

from editserve.api.server import connection_limit

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

HALF_OPEN = 2000
HEADER_TIMEOUT = 2.0
STREAMS_PER_KEY = 3
RATE, BURST = 5, 20
SPARE_FILES = 200  # this process's own files besides the half-open sockets
SERVER_SOFT_LIMIT = 1024
MAX_CONNECTIONS = 2048  # the default


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path) -> Iterator[LiveServer]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # the server inherits this process's limits: start it at 1,024 (where allowed)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(SERVER_SOFT_LIMIT, soft), hard))
    try:
        live = start_server(
            tmp_path_factory.mktemp("abuse-server"),
            wait_ready=False,  # no worker: /readyz says 503, /healthz 200
            EDITSERVE_WORKERS="0",
            EDITSERVE_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
            EDITSERVE_MAX_EVENT_STREAMS_PER_KEY=str(STREAMS_PER_KEY),
            EDITSERVE_REQUEST_RATE_PER_KEY=str(RATE),
            EDITSERVE_REQUEST_BURST_PER_KEY=str(BURST),
            EDITSERVE_SSE_KEEPALIVE_SECONDS="1",
        )
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        yield live
    finally:
        stop_server(live.process)


def server_open_file_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-file limit in /proc")


def half_open_count() -> int:
    """HALF_OPEN, or fewer where the hard open-file limit (this process's and the
    server's, who share it) cannot take that many; this process's soft limit raised."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = HALF_OPEN + SPARE_FILES
    if soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
        soft = raised
    # room here, and below the server's connection cap (which leaves /healthz a slot)
    room = min(soft - SPARE_FILES, connection_limit(MAX_CONNECTIONS, soft) - 20)
    if room < HALF_OPEN:
        warnings.warn(
            f"the open-file hard limit ({hard}) leaves room for {room} half-open sockets, "
            f"not {HALF_OPEN}: testing with {room} (raise `ulimit -Hn` for the full count)",
            stacklevel=2,
        )
    if room < 100:
        pytest.skip(f"an open-file limit of {hard} is too low for this test")
    return min(HALF_OPEN, room)


def healthz_promptly(server: LiveServer) -> float:
    start = time.monotonic()
    response = httpx.get(f"{server.base_url}/healthz", timeout=5)
    took = time.monotonic() - start
    assert response.status_code == 200, response.text
    assert took < 2.0, f"/healthz took {took:.2f} s"
    return took


def test_half_open_sockets_are_closed_and_the_node_keeps_answering(server: LiveServer) -> None:
    limit = server_open_file_limit(server.process.pid)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert limit > SERVER_SOFT_LIMIT or hard <= SERVER_SOFT_LIMIT, "the server kept 1,024"
    count = half_open_count()
    port = int(server.base_url.rsplit(":", 1)[1])
    selector = selectors.DefaultSelector()
    opened: dict[socket.socket, float] = {}
    try:
        for _ in range(count):  # a partial request line, and nothing more
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"GET /api/ai/queue HTT")
            sock.setblocking(False)
            opened[sock] = time.monotonic()
            selector.register(sock, selectors.EVENT_READ)
        all_open = time.monotonic()
        healthz_promptly(server)  # while they are held
        assert all_open - min(opened.values()) < HEADER_TIMEOUT, "opening them took too long"
        closed, answers = wait_until_closed(selector, opened, deadline=all_open + 30)
        assert len(closed) == count, f"{count - len(closed)} of {count} never closed"
        early = [took for took in closed.values() if took < HEADER_TIMEOUT * 0.8]
        assert not early, f"{len(early)} closed before the header timeout"
        assert answers and all(a.startswith(b"HTTP/1.1 408") for a in answers), answers[:3]
    finally:
        for sock in opened:
            sock.close()
        selector.close()
    healthz_promptly(server)
    assert "Traceback" not in server.log()


def wait_until_closed(
    selector: selectors.BaseSelector, opened: dict[socket.socket, float], deadline: float
) -> tuple[dict[socket.socket, float], list[bytes]]:
    """Each socket the server closed, with the seconds it was open; what they were told."""
    closed: dict[socket.socket, float] = {}
    answers: list[bytes] = []
    while len(closed) < len(opened) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(4096)
            except ConnectionResetError:
                data = b""
            if data:
                answers.append(data)
                continue
            closed[sock] = time.monotonic() - opened[sock]
            selector.unregister(sock)
    return closed, answers


def new_key(data_dir: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "editserve", "keys", "create", "--name", "abuse",
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def open_stream(client: httpx.Client, streams: contextlib.ExitStack) -> httpx.Response:
    """GET /api/events; a 200 stays open (until ``streams`` closes), an error is read."""
    response = streams.enter_context(client.stream("GET", "/api/events"))
    if response.status_code != 200:
        response.read()
    return response


def test_one_key_gets_no_more_than_its_event_streams(server: LiveServer) -> None:
    key = new_key(server.data_dir)  # a key of its own: its request rate is untouched
    headers = {"Authorization": f"Bearer {key}"}
    client = httpx.Client(base_url=server.base_url, headers=headers, timeout=10)
    with client, contextlib.ExitStack() as streams:
        with contextlib.ExitStack() as last:
            for held in [streams] * (STREAMS_PER_KEY - 1) + [last]:
                assert open_stream(client, held).status_code == 200
            refused = client.get("/api/events")
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) >= 1
            body = refused.json()
            assert body["status_message"] == body["error"]["type"] == "rate_limited"
            assert "event streams" in body["error"]["detail"]
        # the last client went away: the node sees it, and its slot comes back
        deadline = time.monotonic() + 10
        while (again := open_stream(client, streams)).status_code == 429:
            assert time.monotonic() < deadline, "a closed stream kept its slot"
            time.sleep(0.3)
        assert again.status_code == 200
        assert open_stream(client, streams).status_code == 429  # full again


def test_a_key_over_its_rate_gets_429_and_another_key_does_not(server: LiveServer) -> None:
    key = new_key(server.data_dir)
    statuses = []
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        start = time.monotonic()
        for _ in range(BURST + 15):
            response = client.get("/api/ai/queue", headers={"Authorization": f"Bearer {key}"})
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) >= 1
                assert response.json()["error"]["type"] == "rate_limited"
        took = time.monotonic() - start
        assert set(statuses) == {200, 429}, statuses
        assert statuses.count(200) <= BURST + RATE * took + 1
        other = client.get("/api/ai/queue", headers=server.headers)
        assert other.status_code == 200  # the default key has a bucket of its own
        unkeyed = client.get("/api/ai/queue")
        assert unkeyed.status_code == 401


def test_a_request_head_over_the_limit_is_431(server: LiveServer) -> None:
    response = httpx.get(f"{server.base_url}/healthz", headers={"X-Pad": "a" * 20_000})
    assert response.status_code == 431
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200
