"""Which hosts an input URL may reach (server-side request forgery protection).

The rule: a host may be fetched only if **every** address it resolves to is a public
unicast address — not loopback, private (RFC 1918), link-local (including the
169.254.169.254 cloud metadata service), unspecified, multicast, reserved, CGNAT
(100.64.0.0/10), IPv6 unique-local or site-local, nor an IPv6 form that embeds such an
IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible, 6to4, NAT64, Teredo).
The operator's allow-list (``settings.fetch_allow_hosts``: host names, ``*.domain``
wildcards and/or CIDRs, a bare IP meaning a single address) permits exceptions: an allowed
host name may resolve to anything, and a forbidden address inside an allowed CIDR is
accepted.

DNS rebinding. Checking a name and then letting the HTTP library resolve it again would
let a hostile DNS server answer "public" to the check and "127.0.0.1" to the connect. So
the check is not done beside the HTTP client but *inside* it: :class:`GuardedBackend` is
the httpcore network backend, the one place where every TCP connection is opened — for
the first request and for every redirect hop alike. It resolves the name once, refuses
the connection if any address is forbidden, then connects to the vetted IP literal (no
second lookup can happen), and finally checks the socket's actual peer address. TLS is
unaffected: httpcore still sends SNI and verifies the certificate against the URL's host
name, not the IP. Environment proxies are disabled (``trust_env=False``) since a proxy
would make the connected peer meaningless for this check.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from collections.abc import Iterable, Sequence
from typing import Any

import anyio
import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_METADATA = {
    ipaddress.IPv4Address("169.254.169.254"),
    ipaddress.IPv4Address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.IPv6Address("fd00:ec2::254"),  # AWS IMDS over IPv6
}
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")


class ForbiddenAddress(ValueError):
    """The URL's host resolves to an address that may not be fetched."""


class ResolutionError(ValueError):
    """The URL's host name could not be resolved."""


def forbidden_reason(address: IPAddress | str) -> str | None:
    """Why ``address`` may not be fetched (e.g. ``"loopback"``), or None if it is public."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        # IPv4-mapped and NAT64 addresses *are* the IPv4 address (DNS64 on IPv6-only hosts
        # answers with NAT64 ones for every IPv4 site): judge the IPv4 address alone.
        translated = ip.ipv4_mapped
        if translated is None and ip in _NAT64:
            translated = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if translated is not None:
            inner = forbidden_reason(translated)
            return None if inner is None else f"{inner} (IPv4 {translated} in IPv6 form)"
        # 6to4 and Teredo route to an IPv4 address: both must be acceptable.
        tunnelled = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if tunnelled is not None:
            inner = forbidden_reason(tunnelled)
            if inner is not None:
                return f"{inner} (IPv4 {tunnelled} tunnelled in IPv6)"
    if ip in _METADATA:
        return "cloud metadata"
    if ip.is_loopback:
        return "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "carrier-grade NAT (shared)"
    if isinstance(ip, ipaddress.IPv6Address) and ip in _SITE_LOCAL:
        return "site-local"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "non-global"
    return None


class HostPolicy:
    """The SSRF rule plus the operator's allow-list."""

    def __init__(self, allow_hosts: Iterable[str] = ()) -> None:
        self.allowed_names: set[str] = set()
        self.allowed_networks: list[IPNetwork] = []
        for entry in allow_hosts:
            entry = entry.strip()
            if not entry:
                continue
            try:
                self.allowed_networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self.allowed_names.add(_normalize_host(entry))

    def host_allowed(self, host: str) -> bool:
        """Whether the host name is on the allow-list (``*.example.com`` = any subdomain)."""
        name = _normalize_host(host)
        if name in self.allowed_names:
            return True
        labels = name.split(".")
        return any("*." + ".".join(labels[i:]) in self.allowed_names for i in range(1, len(labels)))

    def address_allowed(self, address: IPAddress) -> bool:
        """Whether ``address`` is public or inside an allowed CIDR."""
        if any(address.version == net.version and address in net for net in self.allowed_networks):
            return True
        return forbidden_reason(address) is None

    def check(self, host: str, addresses: Sequence[IPAddress]) -> None:
        """Raise :class:`ForbiddenAddress` unless ``host`` may be reached at ``addresses``."""
        if self.host_allowed(host):
            return
        for address in addresses:
            if not self.address_allowed(address):
                shown = _normalize_host(host)
                reason = forbidden_reason(address) or "non-public"
                if _parse_ip(shown) is None:
                    # A name: say what kind of address it resolves to, never which (the
                    # answer of this server's resolver is nobody else's business).
                    what = f"host {shown!r} resolves to a {reason.split(' (')[0]} address"
                else:  # the caller's own literal, explained as it is
                    what = f"host {shown!r} is a {reason} address"
                raise ForbiddenAddress(
                    f"{what}; reaching non-public addresses is refused (SSRF protection) "
                    f"unless the server's fetch allow-list permits it{allow_hint(shown, reason)}"
                )

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Resolve ``host`` once and return its addresses if all may be reached."""
        addresses = await resolve_host(host, port)
        self.check(host, addresses)
        return addresses


_PLAIN_HOST = re.compile(r"[A-Za-z0-9._:*-]{1,253}")


def allow_hint(host: str, reason: str) -> str:
    """How the operator lets this server reach ``host`` (as the caller wrote it: never an
    address a name resolved to), or nothing for cloud metadata, which nobody should allow."""
    if reason.startswith("cloud metadata"):
        return ""
    entry = host if _PLAIN_HOST.fullmatch(host) else "HOST"
    return (
        f": to let this server reach it, start it with EDITSERVE_FETCH_ALLOW_HOSTS={entry} "
        f"(or --fetch-allow-hosts {entry}; a comma list of hosts, *.domains or CIDRs)"
    )


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """All distinct addresses of ``host`` (an IP literal resolves to itself)."""
    literal = _parse_ip(host)
    if literal is not None:
        return [literal]
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ResolutionError(f"cannot resolve host {host!r} ({exc})") from None
    addresses: list[IPAddress] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise ResolutionError(f"cannot resolve host {host!r} (no addresses)")
    return addresses


def _parse_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _normalize_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that only opens TCP connections :class:`HostPolicy` allows.

    See the module docstring for why the check lives here (DNS rebinding).
    """

    def __init__(
        self, policy: HostPolicy, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self.policy = policy
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self.policy.resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from None
        last_error: Exception | None = None
        for address in addresses:  # the vetted IPs, in resolver order
            try:
                stream = await self.inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
                continue
            await self._check_peer(host, stream)
            return stream
        assert last_error is not None
        raise last_error

    async def _check_peer(self, host: str, stream: httpcore.AsyncNetworkStream) -> None:
        peer = stream.get_extra_info("server_addr")
        if not peer:
            return
        ip = _parse_ip(str(peer[0]))
        if ip is not None:
            try:
                self.policy.check(host, [ip])
            except ForbiddenAddress:
                # Defence in depth: we connected to a literal we vetted, so this means
                # the socket layer did something unexpected. Do not use the stream.
                await stream.aclose()
                raise

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise ForbiddenAddress("unix sockets may not be fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


_SSL_CONTEXT: ssl.SSLContext | None = None


def default_ssl_context() -> ssl.SSLContext:
    """certifi's CAs (or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), loaded once per process."""
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = httpx.create_ssl_context(trust_env=True)
    return _SSL_CONTEXT


class GuardedTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` whose every connection goes through :class:`GuardedBackend`."""

    def __init__(
        self,
        policy: HostPolicy,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 10,
    ) -> None:
        context = ssl_context or default_ssl_context()
        super().__init__(trust_env=False, verify=context)
        # httpx offers no public hook for the network backend, so replace the pool it
        # built with an identical one that has ours (tests check the guard is in effect).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            http1=True,
            http2=False,
            network_backend=GuardedBackend(policy),
        )
