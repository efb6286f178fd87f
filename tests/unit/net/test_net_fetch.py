"""Fetching input images from a real HTTP server on 127.0.0.1, under every limit."""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.inputs import PNG, TestServer, settings_for

from editserve.blobs import LocalStorage
from editserve.core.errors import InvalidParams
from editserve.inputs.resolver import InputResolver, StoredInput
from editserve.net import ssrf
from editserve.net.fetch import Fetcher, FetchError
from editserve.net.ssrf import ForbiddenAddress, HostPolicy, forbidden_reason

FIELD = "input_image[0]"


@pytest.fixture(scope="module")
def server() -> Iterator[TestServer]:
    with TestServer(big_size=128 * 1024, slow_seconds=1.5) as running:
        yield running


async def _no_uploads(upload_id: str, owner: str) -> StoredInput | None:
    return None


def _resolver(tmp_path: Path, **overrides: object) -> InputResolver:
    settings = settings_for(tmp_path, **overrides)
    return InputResolver(settings, LocalStorage(tmp_path / "files"), _no_uploads)


async def _fetch(tmp_path: Path, url: str, **overrides: object) -> StoredInput:
    [stored] = await _resolver(tmp_path, **overrides).resolve([url], "owner", base_urls=[])
    return stored


async def _error(tmp_path: Path, url: str, *rules: str, **overrides: object) -> str:
    """Resolve ``url``, expect a 400 whose detail names the field and every rule."""
    with pytest.raises(InvalidParams) as info:
        await _fetch(tmp_path, url, **overrides)
    detail = info.value.detail
    assert info.value.status_code == 400
    assert detail.startswith(f"{FIELD}: "), detail
    for rule in rules:
        assert rule in detail, (rule, detail)
    return detail


ALLOW_LOOPBACK = {"fetch_allow_hosts": ["127.0.0.1/32"]}


# --- the SSRF rule -------------------------------------------------------------------------


async def test_loopback_is_refused_by_default(server: TestServer, tmp_path: Path) -> None:
    before = len(server.hits)
    await _error(tmp_path, server.url("/image.png"), "127.0.0.1", "loopback", "SSRF", "allow-list")
    detail = await _error(tmp_path, server.url("/image.png", host="localhost"), "loopback")
    assert "resolves to a loopback address" in detail
    assert "127.0.0.1" not in detail  # what the server's resolver answered stays inside
    assert len(server.hits) == before  # refused before any connection


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/x.png",
        "http://192.168.1.1/x.png",
        "http://[::1]/x.png",
        "http://[::ffff:127.0.0.1]/x.png",
        "http://0.0.0.0/x.png",
        "http://100.64.0.1/x.png",
        "http://[fd00::1]/x.png",
        "http://2130706433/x.png",  # 127.0.0.1 as a decimal integer
    ],
)
async def test_private_addresses_are_refused(tmp_path: Path, url: str) -> None:
    await _error(tmp_path, url, "refused", "SSRF")


async def test_allowed_by_cidr(server: TestServer, tmp_path: Path) -> None:
    stored = await _fetch(tmp_path, server.url("/image.png"), **ALLOW_LOOPBACK)
    assert (stored.format, stored.width, stored.height, stored.size) == ("PNG", 8, 6, len(PNG))
    assert stored.key == f"inputs/{stored.sha256}.png"
    assert (tmp_path / "files" / stored.key).read_bytes() == PNG


@pytest.mark.parametrize("allow", [["localhost"], ["LOCALHOST."], ["127.0.0.1"], ["127.0.0.0/8"]])
async def test_allowed_by_name_or_address(
    server: TestServer, tmp_path: Path, allow: list[str]
) -> None:
    stored = await _fetch(
        tmp_path, server.url("/image.png", host="localhost"), fetch_allow_hosts=allow
    )
    assert stored.format == "PNG"


async def test_allow_list_does_not_open_everything(tmp_path: Path) -> None:
    await _error(
        tmp_path,
        "http://169.254.169.254/latest/meta-data/",
        "cloud metadata",
        fetch_allow_hosts=["localhost", "127.0.0.1/32"],
    )


# --- redirects -------------------------------------------------------------------------------


async def test_redirects_up_to_the_limit(server: TestServer, tmp_path: Path) -> None:
    stored = await _fetch(tmp_path, server.url("/redirect/2"), **ALLOW_LOOPBACK)
    assert stored.size == len(PNG)


async def test_too_many_redirects(server: TestServer, tmp_path: Path) -> None:
    await _error(
        tmp_path,
        server.url("/redirect/3"),
        "too many redirects",
        "more than 2 (fetch_max_redirects)",
        "fetch_max_redirects",
        **ALLOW_LOOPBACK,
    )
    await _error(
        tmp_path,
        server.url("/redirect/1"),
        "more than 0 (fetch_max_redirects)",
        "fetch_max_redirects",
        fetch_max_redirects=0,
        **ALLOW_LOOPBACK,
    )


async def test_redirect_from_allowed_host_to_forbidden_one(
    server: TestServer, tmp_path: Path
) -> None:
    # localhost is allowed by name; the redirect target 127.0.0.1 is not.
    detail = await _error(
        tmp_path,
        server.url("/to-loopback", host="localhost"),
        "redirect target",
        "127.0.0.1",
        "loopback",
        "SSRF",
        fetch_allow_hosts=["localhost"],
    )
    assert "http://127.0.0.1" in detail
    await _error(
        tmp_path,
        server.url("/to-metadata"),
        "redirect target",
        "169.254.169.254",
        "cloud metadata",
        **ALLOW_LOOPBACK,
    )


async def test_redirect_to_other_scheme(server: TestServer, tmp_path: Path) -> None:
    await _error(tmp_path, server.url("/to-ftp"), "ftp", "only http and https", **ALLOW_LOOPBACK)
    await _error(tmp_path, server.url("/bad-redirect"), "location header", **ALLOW_LOOPBACK)


# --- size, status, time ------------------------------------------------------------------------


async def test_byte_cap_with_content_length(server: TestServer, tmp_path: Path) -> None:
    await _error(
        tmp_path,
        server.url("/big"),
        "131072 bytes (Content-Length)",
        "limit of 65536 bytes",
        "max_input_bytes",
        **ALLOW_LOOPBACK,
    )


async def test_byte_cap_without_content_length(server: TestServer, tmp_path: Path) -> None:
    await _error(
        tmp_path,
        server.url("/big-no-length"),
        "larger than the limit of 65536 bytes",
        "max_input_bytes",
        **ALLOW_LOOPBACK,
    )


async def test_byte_cap_applies_after_gzip_decoding(server: TestServer, tmp_path: Path) -> None:
    await _error(tmp_path, server.url("/gzip-bomb"), "max_input_bytes", **ALLOW_LOOPBACK)
    stored = await _fetch(tmp_path, server.url("/gzip-image"), **ALLOW_LOOPBACK)
    assert stored.size == len(PNG)


async def test_http_error_status(server: TestServer, tmp_path: Path) -> None:
    await _error(tmp_path, server.url("/missing"), "HTTP 404", "expected 2xx", **ALLOW_LOOPBACK)


async def test_timeout_waiting_for_headers(server: TestServer, tmp_path: Path) -> None:
    await _error(
        tmp_path,
        server.url("/slow"),
        "timed out after 0.3 s",
        "fetch_timeout_seconds",
        fetch_timeout_seconds=0.3,
        **ALLOW_LOOPBACK,
    )


async def test_overall_deadline_stops_a_dripping_server(server: TestServer, tmp_path: Path) -> None:
    # Each byte arrives well within the timeout; the whole download does not.
    await _error(
        tmp_path,
        server.url("/drip"),
        "timed out",
        "fetch_timeout_seconds",
        fetch_timeout_seconds=0.4,
        **ALLOW_LOOPBACK,
    )


async def test_not_an_image(server: TestServer, tmp_path: Path) -> None:
    await _error(tmp_path, server.url("/page.html"), "not a supported image", **ALLOW_LOOPBACK)


async def test_connection_refused(tmp_path: Path) -> None:
    await _error(tmp_path, "http://127.0.0.1:1/x.png", "failed", **ALLOW_LOOPBACK)


async def test_fetcher_without_a_shared_client(server: TestServer) -> None:
    fetcher = Fetcher(
        max_bytes=1 << 20, max_redirects=2, timeout_seconds=2, allow_hosts=["127.0.0.1"]
    )
    fetched = await fetcher.fetch(server.url("/redirect/1?token=secret"))
    assert fetched.data == PNG
    assert fetched.url == server.url("/image.png")
    assert fetched.content_type == "image/png"
    with pytest.raises(FetchError) as info:
        await fetcher.fetch("http://user:pw@127.0.0.1:1/x.png?token=secret")
    assert "pw" not in str(info.value) and "secret" not in str(info.value)


# --- DNS: one resolution per connection, and the connection goes to the vetted IP ---------------


class FakeDns:
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[ssrf.IPAddress]:
        self.calls.append(host)
        if host not in self.answers:
            raise ssrf.ResolutionError(f"cannot resolve host {host!r} (fake)")
        return [ipaddress.ip_address(a) for a in self.answers[host]]


async def test_connects_to_the_resolved_and_checked_address(
    server: TestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "images.test" exists only in the fake resolver: the request can only succeed if the
    # connection is made to the address the guard resolved and vetted, not re-resolved.
    dns = FakeDns({"images.test": ["127.0.0.1"]})
    monkeypatch.setattr(ssrf, "resolve_host", dns)
    stored = await _fetch(
        tmp_path, server.url("/image.png", host="images.test"), fetch_allow_hosts=["127.0.0.0/8"]
    )
    assert stored.size == len(PNG)
    assert dns.calls == ["images.test"]


async def test_any_forbidden_address_refuses_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        ssrf, "resolve_host", FakeDns({"mixed.test": ["93.184.216.34", "10.1.2.3"]})
    )
    detail = await _error(tmp_path, "http://mixed.test/x.png", "resolves to a private address")
    assert "10.1.2.3" not in detail


async def test_unresolvable_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ssrf, "resolve_host", FakeDns({}))
    await _error(tmp_path, "http://nowhere.test/x.png", "cannot resolve host 'nowhere.test'")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback (IPv4 127.0.0.1 in IPv6 form)"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("64:ff9b::a00:1", "private (IPv4 10.0.0.1"),
        ("2002:7f00:1::1", "loopback (IPv4 127.0.0.1 tunnelled"),
        ("fd00:ec2::254", "cloud metadata"),
    ],
)
def test_forbidden_reasons(address: str, reason: str) -> None:
    assert (forbidden_reason(address) or "").startswith(reason)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses(address: str) -> None:
    assert forbidden_reason(address) is None


def test_policy_allow_list_entries() -> None:
    policy = HostPolicy(
        ["Images.Internal", "*.corp.test", "10.0.0.0/8", "fd00::/8", "192.168.1.5", " "]
    )
    policy.check("images.internal", [ipaddress.ip_address("127.0.0.1")])
    policy.check("a.b.corp.test.", [ipaddress.ip_address("10.0.0.1")])
    assert not policy.host_allowed("corp.test")
    assert not policy.host_allowed("evilcorp.test")
    policy.check("x", [ipaddress.ip_address("10.9.8.7"), ipaddress.ip_address("fd12::1")])
    policy.check("y", [ipaddress.ip_address("192.168.1.5")])
    with pytest.raises(ForbiddenAddress, match="resolves to a private address") as refused:
        policy.check("z", [ipaddress.ip_address("192.168.1.6")])
    assert "192.168.1.6" not in str(refused.value)  # the resolver's answer stays inside


# --- TLS: pinning the IP keeps SNI and certificate checks on the URL's host name -----------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestServer, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost"],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with TestServer(tls=context) as running:
        yield running, cert


async def test_https_verifies_the_url_host_name(tls_server: tuple[TestServer, Path]) -> None:
    server, cert = tls_server
    fetcher = Fetcher(
        max_bytes=1 << 20,
        max_redirects=0,
        timeout_seconds=5,
        allow_hosts=["localhost", "127.0.0.1"],
        ssl_context=ssl.create_default_context(cafile=str(cert)),
    )
    fetched = await fetcher.fetch(server.url("/image.png", host="localhost"))
    assert fetched.data == PNG
    # Same server by IP: the certificate names only "localhost", so this must fail.
    with pytest.raises(FetchError, match="failed"):
        await fetcher.fetch(server.url("/image.png"))
    # And with the system CAs the self-signed certificate is not trusted at all.
    with pytest.raises(FetchError, match="failed"):
        await Fetcher(
            max_bytes=1 << 20, max_redirects=0, timeout_seconds=5, allow_hosts=["localhost"]
        ).fetch(server.url("/image.png", host="localhost"))
