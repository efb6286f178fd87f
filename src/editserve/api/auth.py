"""Bearer key authentication: every protected route depends on `require_key`."""

from __future__ import annotations

from anyio import to_thread
from starlette.requests import Request

from editserve.api.context import services
from editserve.core.errors import RateLimited, Unauthenticated


async def require_key(request: Request) -> str:
    """The id of the calling key (the owner of what it creates), or a 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if not header:
        raise Unauthenticated("Authorization: missing header; send 'Authorization: Bearer <key>'")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("Authorization: must be 'Bearer <key>'")
    owner = await to_thread.run_sync(services(request).keys.authenticate, token)
    if owner is None:
        raise Unauthenticated("Authorization: invalid or revoked API key")
    return owner


async def caller_key(request: Request) -> str | None:
    """The id of the calling key if the request carries a valid one, else None (never a
    401: for endpoints open to all that show more to a key, /readyz and /metrics)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return await to_thread.run_sync(services(request).keys.authenticate, token)
    except RateLimited:  # a probe is never refused: over its rate, the key sees what all see
        return None


async def shows_details(request: Request) -> bool:
    """Whether /readyz and /metrics show paths, versions and host names to this caller:
    EDITSERVE_PUBLIC_DETAILS, or a valid key."""
    return services(request).settings.public_details or await caller_key(request) is not None
