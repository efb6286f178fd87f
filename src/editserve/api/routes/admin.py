"""The admin API (a key with the admin scope): /api/admin/keys and /api/admin/audit."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request

from editserve.api.auth import require_admin
from editserve.api.body import json_body
from editserve.api.context import services
from editserve.api.openapi import ERROR_RESPONSES
from editserve.services.key_admin import AuditLog, CreatedKey, KeyList, KeyView, RevokedKey
from editserve.services.keys import Caller

router = APIRouter(tags=["admin"], responses=ERROR_RESPONSES)


@router.get("/api/admin/keys", dependencies=[Depends(require_admin)])
async def list_keys(request: Request) -> KeyList:
    """Every key, revoked ones too (never their secrets)."""
    return await to_thread.run_sync(services(request).key_admin.list)


@router.post("/api/admin/keys", status_code=201)
async def create_key(request: Request, caller: Caller = Depends(require_admin)) -> CreatedKey:
    """A new key: its secret is in this answer only."""
    return await services(request).key_admin.create(caller, await json_body(request))


@router.get("/api/admin/keys/{key_id}", dependencies=[Depends(require_admin)])
async def get_key(request: Request, key_id: str) -> KeyView:
    return await to_thread.run_sync(services(request).key_admin.get, key_id)


@router.patch("/api/admin/keys/{key_id}")
async def update_key(
    request: Request, key_id: str, caller: Caller = Depends(require_admin)
) -> KeyView:
    """Change a key's name, scopes, weight, quotas or default webhook (null clears one)."""
    return await services(request).key_admin.update(caller, key_id, await json_body(request))


@router.delete("/api/admin/keys/{key_id}")
async def revoke_key(
    request: Request, key_id: str, caller: Caller = Depends(require_admin)
) -> RevokedKey:
    """Revoke a key: it is refused from now on, and its signed links die with it."""
    return await to_thread.run_sync(services(request).key_admin.revoke, caller, key_id)


@router.get("/api/admin/audit", dependencies=[Depends(require_admin)])
async def audit(
    request: Request,
    key_id: str | None = Query(default=None),
    limit: int = Query(default=100, ge=1, le=1000),
    before: int | None = Query(default=None, ge=1, le=2**62),
) -> AuditLog:
    """Key changes, newest first: who (a key id, or cli:<user>), when, what."""
    return await to_thread.run_sync(services(request).key_admin.audit, key_id, limit, before)
