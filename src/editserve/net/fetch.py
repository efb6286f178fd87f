"""Downloading input images from http(s) URLs, safely.

Every limit is enforced here: scheme (http/https only), the SSRF rule on every connection
(see :mod:`editserve.net.ssrf`), at most ``max_redirects`` redirects, a byte cap
(``Content-Length`` refused early, and the stream cut off once the cap is passed — also
after gzip/deflate decoding, so a compressed bomb cannot slip through), and one overall
deadline for the whole download including redirects, so a slowly dripping server cannot
hold a request open. Failures raise :class:`FetchError` with a human message naming the
rule; the resolver prefixes the field (``input_image[i]: ...``).
"""

from __future__ import annotations

import logging
import ssl
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus

import anyio
import httpx

from editserve.core.settings import Settings
from editserve.net.ssrf import ForbiddenAddress, GuardedTransport, HostPolicy, ResolutionError

log = logging.getLogger("editserve.net")

USER_AGENT = "editserve (input image fetcher)"
_REDIRECT_CODES = {301, 302, 303, 307, 308}


class FetchError(ValueError):
    """A URL could not be downloaded; the message names the rule that was broken."""


@dataclass(frozen=True)
class Fetched:
    url: str  # the final URL, after redirects
    data: bytes
    content_type: str | None  # as the server claimed it; never trusted for decoding


class Fetcher:
    """Downloads URLs under the limits of one :class:`~editserve.core.settings.Settings`."""

    def __init__(
        self,
        *,
        max_bytes: int,
        max_redirects: int,
        timeout_seconds: float,
        allow_hosts: list[str] | tuple[str, ...] = (),
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.timeout_seconds = timeout_seconds
        self.policy = HostPolicy(allow_hosts)
        self.ssl_context = ssl_context  # None: system / certifi CAs

    @classmethod
    def from_settings(cls, settings: Settings) -> Fetcher:
        return cls(
            max_bytes=settings.max_input_bytes,
            max_redirects=settings.fetch_max_redirects,
            timeout_seconds=settings.fetch_timeout_seconds,
            allow_hosts=list(settings.fetch_allow_hosts),
        )

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """An HTTP client whose connections obey the SSRF rule; share it across fetches."""
        async with httpx.AsyncClient(
            transport=GuardedTransport(self.policy, ssl_context=self.ssl_context),
            trust_env=False,
            follow_redirects=False,  # followed by hand, so each hop is checked and counted
            timeout=httpx.Timeout(self.timeout_seconds),
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "image/*",
                "Accept-Encoding": "identity",
            },
        ) as client:
            yield client

    async def fetch(self, url: str, *, client: httpx.AsyncClient | None = None) -> Fetched:
        """Download ``url``; raise :class:`FetchError` naming the rule on any failure."""
        if client is None:
            async with self.client() as own:
                return await self.fetch(url, client=own)
        current = _checked_url(url)
        try:
            with anyio.fail_after(self.timeout_seconds):
                return await self._follow(current, client)
        except TimeoutError:
            raise FetchError(
                f"download of {_display(current)} timed out after "
                f"{self.timeout_seconds:g} s (fetch_timeout_seconds)"
            ) from None

    async def _follow(self, url: httpx.URL, client: httpx.AsyncClient) -> Fetched:
        first, redirects = url, 0
        while True:
            try:
                async with client.stream("GET", url) as response:
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECT_CODES and location:
                        if redirects >= self.max_redirects:
                            raise FetchError(
                                f"download of {_display(first)} failed: too many redirects, "
                                f"more than {self.max_redirects} (fetch_max_redirects)"
                            )
                        redirects += 1
                        url = _redirect_target(url, location)
                        continue
                    if not response.is_success:
                        raise FetchError(
                            f"download of {_display(url)} failed: the server answered "
                            f"HTTP {_status_text(response.status_code)} (expected 2xx)"
                        )
                    data = await self._read(response)
                    return Fetched(
                        url=str(url), data=data, content_type=response.headers.get("content-type")
                    )
            except ForbiddenAddress as exc:
                hop = "redirect target " if redirects else ""
                raise FetchError(f"{hop}{_display(url)} refused: {exc}") from None
            except ResolutionError as exc:
                raise FetchError(f"download of {_display(url)} failed: {exc}") from None
            except httpx.TimeoutException:
                raise FetchError(
                    f"download of {_display(url)} timed out after "
                    f"{self.timeout_seconds:g} s (fetch_timeout_seconds)"
                ) from None
            except httpx.HTTPError as exc:
                # The transport's own words name the addresses it tried: logged, not sent.
                log.info("download of %s failed: %r", _display(url), exc)
                raise FetchError(
                    f"download of {_display(url)} failed: {transport_failure(exc)}"
                ) from None

    async def _read(self, response: httpx.Response) -> bytes:
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        length = response.headers.get("content-length")
        declared = int(length) if length and length.strip().isdigit() else None
        if encoding == "identity" and declared is not None and declared > self.max_bytes:
            raise self._too_large(f"{declared} bytes (Content-Length), over")
        decoder = _decoder(encoding)
        out = bytearray()
        async for chunk in response.aiter_raw():
            if decoder is None:
                out += chunk
            else:
                out += decoder.feed(chunk, self.max_bytes - len(out) + 1)
            if len(out) > self.max_bytes:
                raise self._too_large("larger than")
        if decoder is not None:
            out += decoder.flush(self.max_bytes - len(out) + 1)
            if len(out) > self.max_bytes:
                raise self._too_large("larger than")
        return bytes(out)

    def _too_large(self, how: str) -> FetchError:
        return FetchError(f"image is {how} the limit of {self.max_bytes} bytes (max_input_bytes)")


class _BoundedDecoder:
    """gzip/deflate decoding that never produces more than asked for in one step."""

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._zlib = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, chunk: bytes, limit: int) -> bytes:
        try:
            out = self._zlib.decompress(chunk, limit)
        except zlib.error:
            if self._started or self._wbits != zlib.MAX_WBITS:
                raise FetchError("corrupt compressed response body") from None
            # "deflate" is sometimes sent without the zlib header.
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            self._wbits = -zlib.MAX_WBITS
            return self.feed(chunk, limit)
        self._started = True
        # At most ``limit`` bytes come out; the caller treats reaching it as over the cap,
        # so whatever stays in unconsumed_tail never needs decoding.
        return out

    def flush(self, limit: int) -> bytes:
        return self._zlib.flush()[:limit]


def _decoder(encoding: str) -> _BoundedDecoder | None:
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return _BoundedDecoder(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _BoundedDecoder(zlib.MAX_WBITS)
    raise FetchError(
        f"unsupported Content-Encoding {_shorten(encoding, 40)!r} (expected identity or gzip)"
    )


def _status_text(code: int) -> str:
    """``404 Not Found``: the standard phrase, not the remote's (its words are its own)."""
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def transport_failure(exc: BaseException) -> str:
    """What went wrong on a connection, in words that hold no address (a refused
    connection's message names the IP and port it tried): for messages callers see."""
    if isinstance(exc, ForbiddenAddress | ResolutionError):
        return str(exc)  # our own words: the rule, never the addresses
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = str(exc).lower()
    if "certificate" in text or "ssl" in text or "tls" in text:
        return "the TLS handshake failed (is the certificate valid for this host?)"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect to the host"
    if isinstance(exc, httpx.RemoteProtocolError):
        if "location header" in text:
            return "the server's redirect has an invalid location header"
        return "the server broke the HTTP protocol"
    if isinstance(exc, httpx.NetworkError):
        return "the connection broke"
    return type(exc).__name__


def _checked_url(url: str, *, redirect: bool = False) -> httpx.URL:
    what = "redirect target" if redirect else "URL"
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise FetchError(f"{what} {_shorten(url)!r} is not a valid URL") from None
    if parsed.scheme not in ("http", "https"):
        raise FetchError(
            f"{what} {_display(parsed)} has scheme {parsed.scheme!r}; only http and https "
            "may be fetched"
        )
    if not parsed.host:
        raise FetchError(f"{what} {_shorten(url)!r} has no host")
    return parsed


def _redirect_target(url: httpx.URL, location: str) -> httpx.URL:
    try:
        target = str(url.join(location))
    except (httpx.InvalidURL, TypeError, ValueError):
        raise FetchError(f"redirect target {_shorten(location)!r} is not a valid URL") from None
    return _checked_url(target, redirect=True)


def _display(url: httpx.URL) -> str:
    """The URL for error messages: no credentials, no query, bounded length."""
    return _shorten(str(url.copy_with(username=None, password=None, query=None, fragment=None)))


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
