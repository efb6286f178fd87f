"""Bearer key authentication and scopes: every protected route depends on `require_key`
(or `require_admin`).

A key's scopes (admin, submit, read) decide what it may do: GET and HEAD need ``read``,
every other method ``submit``, the admin API (/api/admin/…) ``admin``; admin may do all.
A key without the scope gets a 403 that names it.
"""

from __future__ import annotations

from anyio import to_thread
from starlette.requests import Request

from editserve.api.context import services
from editserve.core.errors import Forbidden, RateLimited, Unauthenticated
from editserve.services.keys import Caller

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def require_caller(request: Request) -> Caller:
    """The calling key, or a 401. Its scopes are checked by the dependencies below."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if not header:
        raise Unauthenticated("Authorization: missing header; send 'Authorization: Bearer <key>'")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("Authorization: must be 'Bearer <key>'")
    caller = await to_thread.run_sync(services(request).keys.authenticate, token)
    if caller is None:
        raise Unauthenticated("Authorization: invalid or revoked API key")
    request.state.caller = caller
    return caller


async def require_key(request: Request) -> str:
    """The id of the calling key (the owner of what it creates), or a 401; a 403 if the key
    lacks the method's scope (read for GET and HEAD, submit for the others)."""
    caller = await require_caller(request)
    scope = "read" if request.method in READ_METHODS else "submit"
    _check_scope(caller, scope, f"{request.method} {request.url.path}")
    return caller.id


async def require_admin(request: Request) -> Caller:
    """The calling key if it has the admin scope; 401 or 403 otherwise."""
    caller = await require_caller(request)
    _check_scope(caller, "admin", "the admin API")
    return caller


def _check_scope(caller: Caller, scope: str, what: str) -> None:
    if not caller.may(scope):
        have = ", ".join(caller.scopes) or "none"
        raise Forbidden(
            f"Authorization: {what} needs a key with the '{scope}' scope; this key has: {have}"
        )


async def caller_key(request: Request) -> str | None:
    """The id of the calling key if the request carries a valid one, else None (never a
    401: for endpoints open to all that show more to a key, /readyz and /metrics)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        caller = await to_thread.run_sync(services(request).keys.authenticate, token)
    except RateLimited:  # a probe is never refused: over its rate, the key sees what all see
        return None
    return caller.id if caller is not None else None


async def shows_details(request: Request) -> bool:
    """Whether /readyz and /metrics show paths, versions and host names to this caller:
    EDITSERVE_PUBLIC_DETAILS, or a valid key."""
    return services(request).settings.public_details or await caller_key(request) is not None
