"""Bearer key authentication: every protected route depends on `require_key`."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from editserve.api.services import services
from editserve.errors import Unauthenticated
from editserve.keys import hash_key


async def require_key(request: Request) -> str:
    """The id of the calling key (the owner of what it creates), or a 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if not header:
        raise Unauthenticated("Authorization: missing header; send 'Authorization: Bearer <key>'")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("Authorization: must be 'Bearer <key>'")
    row = await run_in_threadpool(services(request).store.key_by_hash, hash_key(token))
    if row is None:
        raise Unauthenticated("Authorization: invalid or revoked API key")
    return row.id
