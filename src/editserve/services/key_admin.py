"""The admin API's keys (/api/admin/keys, /api/admin/audit): create, list, change and
revoke keys over HTTP, each change in the audit log (in the transaction of the change).

Only a key with the admin scope gets here (api/auth.py require_admin). The last active
admin key can neither be revoked nor lose its admin scope (409): the API would have no
one left to manage it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from editserve.core.errors import Conflict, InvalidParams, NotFound
from editserve.core.settings import Settings
from editserve.net.ssrf import HostPolicy
from editserve.net.webhook_targets import check_target
from editserve.services.generations.requests import describe_validation_error
from editserve.services.keys import Caller, create_key
from editserve.store import KeyStore, LastAdmin
from editserve.store.rows import SCOPES, ApiKeyRow, AuditEntry

MAX_NAME = 100


class KeyChange(BaseModel):
    """The fields an admin may set (PATCH: any of them; null clears a quota or webhook)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    scopes: list[str] | None = Field(
        default=None, description="Of admin, submit, read (admin may do everything)."
    )
    weight: float | None = Field(
        default=None, gt=0, le=1000, description="Share of the workers when keys wait together."
    )
    max_running: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Generations queued or running at once."
    )
    gpu_seconds_per_day: float | None = Field(
        default=None, gt=0, description="Worker seconds in any 24 hours."
    )
    webhook_url: str | None = Field(default=None, description="The key's default webhook.")

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, scopes: list[str] | None) -> list[str] | None:
        if scopes is None:
            return None
        unknown = [scope for scope in scopes if scope not in SCOPES]
        if unknown:
            raise ValueError(f"unknown scope {unknown[0]!r}; scopes are admin, submit, read")
        if not scopes:
            raise ValueError("at least one scope")
        return scopes


class NewKeyBody(KeyChange):
    name: str = Field(min_length=1, max_length=MAX_NAME)


class KeyView(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: int
    revoked_at: int | None
    scopes: list[str]
    weight: float
    max_running: int | None
    gpu_seconds_per_day: float | None
    webhook_url: str | None


class CreatedKey(KeyView):
    key: str = Field(description="The secret: shown once, stored only as a hash.")
    webhook_secret: str = Field(description="Signs this key's webhook deliveries.")


class KeyList(BaseModel):
    keys: list[KeyView]


class RevokedKey(BaseModel):
    id: str
    revoked: bool


class AuditView(BaseModel):
    seq: int
    at: float
    actor: str
    action: str
    key_id: str
    detail: dict[str, Any]


class AuditLog(BaseModel):
    entries: list[AuditView]
    next_before: int | None = Field(description="Pass as before= for older entries.")


def key_view(row: ApiKeyRow) -> KeyView:
    return KeyView(
        id=row.id, name=row.name, prefix=row.prefix, created_at=int(row.created_at),
        revoked_at=int(row.revoked_at) if row.revoked_at is not None else None,
        scopes=list(row.scopes), weight=row.weight, max_running=row.max_running,
        gpu_seconds_per_day=row.gpu_seconds_per_day, webhook_url=row.webhook_url,
    )  # fmt: skip


class KeyAdmin:
    def __init__(self, settings: Settings, store: KeyStore) -> None:
        self.settings = settings
        self.store = store

    def list(self) -> KeyList:
        return KeyList(keys=[key_view(row) for row in self.store.list_keys()])

    def get(self, key_id: str) -> KeyView:
        row = self.store.get_key(key_id)
        if row is None:
            raise NotFound(f"key not found: {key_id}")
        return key_view(row)

    async def create(self, caller: Caller, body: Any) -> CreatedKey:
        wanted = _parsed(NewKeyBody, body)
        fields = wanted.model_dump(exclude_unset=True)
        fields["webhook_url"] = await self._webhook(fields.get("webhook_url"))
        scopes = tuple(fields.pop("scopes", None) or ("submit", "read"))
        name = fields.pop("name")
        made = create_key(self.store, name, scopes, actor=caller.id, **fields)
        view = key_view(made.row).model_dump()
        return CreatedKey(**view, key=made.secret, webhook_secret=made.webhook_secret)

    async def update(self, caller: Caller, key_id: str, body: Any) -> KeyView:
        changes = _parsed(KeyChange, body).model_dump(exclude_unset=True)
        if not changes:
            raise InvalidParams("body: name at least one field to change")
        for name in ("name", "scopes", "weight"):
            if name in changes and changes[name] is None:
                raise InvalidParams(f"{name}: cannot be null")
        if "scopes" in changes:
            changes["scopes"] = tuple(s for s in SCOPES if s in changes["scopes"])
        if "webhook_url" in changes:
            changes["webhook_url"] = await self._webhook(changes["webhook_url"])
        try:
            row = self.store.update_key(key_id, changes, actor=caller.id)
        except LastAdmin:
            raise Conflict("scopes: this is the last admin key; keep 'admin' on it") from None
        if row is None:
            raise NotFound(f"key not found or revoked: {key_id}")
        return key_view(row)

    def revoke(self, caller: Caller, key_id: str) -> RevokedKey:
        try:
            revoked = self.store.revoke_key(key_id, actor=caller.id)
        except LastAdmin:
            raise Conflict("key: this is the last admin key; make another admin first") from None
        if not revoked:
            raise NotFound(f"key not found or already revoked: {key_id}")
        return RevokedKey(id=key_id, revoked=True)

    def audit(self, key_id: str | None, limit: int, before: int | None) -> AuditLog:
        if not 1 <= limit <= 1000:
            raise InvalidParams("limit: must be 1-1000")
        entries = self.store.audit_log(key_id, limit=limit, before=before)
        views = [_audit_view(entry) for entry in entries]
        more = len(entries) == limit
        return AuditLog(entries=views, next_before=entries[-1].seq if more else None)

    async def _webhook(self, url: str | None) -> str | None:
        if url is None:
            return None
        policy = HostPolicy(self.settings.fetch_allow_hosts)
        return await check_target(url, policy, field="webhook_url")


def _parsed(model: type[KeyChange], body: Any) -> Any:
    if not isinstance(body, dict):
        raise InvalidParams("body: a JSON object is required")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise InvalidParams(describe_validation_error(exc)) from None


def _audit_view(entry: AuditEntry) -> AuditView:
    return AuditView(
        seq=entry.seq, at=entry.at, actor=entry.actor, action=entry.action,
        key_id=entry.key_id, detail=entry.detail,
    )  # fmt: skip


__all__ = ["KeyAdmin", "KeyView", "CreatedKey", "KeyList", "AuditLog", "RevokedKey"]
