"""Holding under abuse: what a refused input or webhook URL tells the caller. The rule and
the field, never what this server's resolver answered, the addresses its connections
tried, or the words a remote server chose for its status line."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from editserve.core.errors import InvalidParams
from editserve.net import ssrf
from editserve.net.fetch import Fetcher, FetchError
from editserve.net.ssrf import HostPolicy, IPAddress
from editserve.net.webhook_targets import check_target

INTERNAL = "10.20.30.40"


class Teller(BaseHTTPRequestHandler):
    """Answers 404 with a status line of its own words."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(404, f"db-7.corp.internal {INTERNAL} says no")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def teller() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Teller)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def fetcher(*allow: str) -> Fetcher:
    return Fetcher(max_bytes=1 << 20, max_redirects=2, timeout_seconds=5, allow_hosts=allow)


async def test_the_remotes_status_words_are_not_passed_on(teller: int) -> None:
    with pytest.raises(FetchError) as failed:
        await fetcher("127.0.0.1/32").fetch(f"http://127.0.0.1:{teller}/x.png")
    message = str(failed.value)
    assert "the server answered HTTP 404 Not Found (expected 2xx)" in message
    assert "db-7" not in message and INTERNAL not in message


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_refused_connection_names_no_address(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(ssrf, "resolve_host", resolve)
    url = f"http://images.allowed.test:{free_port()}/x.png"  # nothing listens there
    with pytest.raises(FetchError) as failed:
        await fetcher("images.allowed.test").fetch(url)
    message = str(failed.value)
    assert "could not connect to the host" in message
    assert "127.0.0.1" not in message


async def test_a_name_resolving_inside_is_refused_without_the_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(INTERNAL)]

    monkeypatch.setattr(ssrf, "resolve_host", resolve)
    with pytest.raises(FetchError) as fetched:
        await fetcher().fetch("http://intranet.example/x.png")
    with pytest.raises(InvalidParams) as hooked:
        await check_target("https://intranet.example/hook", HostPolicy())
    for message in (str(fetched.value), hooked.value.detail):
        assert "'intranet.example' resolves to a private address" in message
        assert "SSRF" in message and INTERNAL not in message
    assert hooked.value.detail.startswith("webhook: ")


def test_an_address_the_caller_wrote_is_explained_as_written() -> None:
    with pytest.raises(ssrf.ForbiddenAddress, match="host '10.0.0.1' is a private address"):
        HostPolicy().check("10.0.0.1", [ipaddress.ip_address("10.0.0.1")])
