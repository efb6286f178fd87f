"""Is a webhook URL one we may call? Checked at enqueue, so a bad URL is a 400 then; the
dispatcher's connections go through the same SSRF guard as input fetching."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from editserve.core.errors import InvalidParams
from editserve.net.ssrf import ForbiddenAddress, HostPolicy, ResolutionError

MAX_URL_LENGTH = 2048
EVENT_NAMES = ("start", "completed")


async def check_target(url: str, policy: HostPolicy, *, field: str = "webhook") -> str:
    """The URL, stripped, if it is http(s) with a host that passes the SSRF policy."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidParams(f"{field}: longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidParams(f"{field}: not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParams(f"{field}: must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise InvalidParams(f"{field}: must not carry credentials (user:password@)")
    try:
        await policy.resolve(parts.hostname, port)
    except (ForbiddenAddress, ResolutionError) as exc:
        raise InvalidParams(f"{field}: {exc}") from None
    return url


@dataclass(frozen=True)
class WebhookChoice:
    url: str | None
    events: list[str] | None


async def choose_webhook(
    url: str | None, events: list[str], default_url: str | None, policy: HostPolicy
) -> WebhookChoice:
    """The request's webhook (checked now: a bad one is a 400), else the key's default."""
    if url is not None:
        return WebhookChoice(await check_target(url, policy), sorted(set(events)))
    if default_url:
        return WebhookChoice(default_url, sorted(set(events)))
    return WebhookChoice(None, None)
