"""Bearer key authentication: every protected route depends on `require_key`."""

from __future__ import annotations

from anyio import to_thread
from starlette.requests import Request

from editserve.api.context import services
from editserve.core.errors import Unauthenticated


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
