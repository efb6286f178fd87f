"""The key side of QueueStore (mixed in): API keys, their admin changes with the audit log
in the same transaction, and the usage the finishes recorded (migration 012)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from editserve.store.dialect import Dialect, Tx, dumps
from editserve.store.listing import count_of
from editserve.store.rows import ApiKeyRow, AuditEntry, UsageRow

# The fields an admin may change, as update_key takes them.
KEY_FIELDS = ("name", "scopes", "weight", "max_running", "gpu_seconds_per_day", "webhook_url")


class LastAdmin(Exception):
    """A change refused: it would leave no active key with the admin scope."""


class KeyRows:
    """API keys, audit and usage over one dialect."""

    dialect: Dialect

    def insert_key(self, key: ApiKeyRow, *, actor: str | None = None) -> None:
        """Insert a key; with an actor, record the creation in the audit log."""
        with self.dialect.tx() as tx:
            tx.rowcount("insert_key", **key.insert_params())
            if actor is not None:
                _audit(tx, actor, "create", key.id, _described(key))

    def key_by_hash(self, key_hash: str) -> ApiKeyRow | None:
        row = self.dialect.one("key_by_hash", key_hash=key_hash)
        return ApiKeyRow.from_row(row) if row else None

    def get_key(self, key_id: str) -> ApiKeyRow | None:
        row = self.dialect.one("get_key", id=key_id)
        return ApiKeyRow.from_row(row) if row else None

    def list_keys(self) -> list[ApiKeyRow]:
        return [ApiKeyRow.from_row(row) for row in self.dialect.all("list_keys")]

    def revoke_key(self, key_id: str, *, actor: str | None = None) -> bool:
        """False if there is no such active key; LastAdmin if it is the last admin key."""
        with self.dialect.tx() as tx:
            key = _active(tx, key_id)
            if key is None:
                return False
            if "admin" in key.scopes:
                _keep_an_admin(tx, key_id)
            tx.rowcount("revoke_key", id=key_id)
            if actor is not None:
                _audit(tx, actor, "revoke", key_id, {})
            return True

    def update_key(
        self, key_id: str, changes: Mapping[str, Any], *, actor: str
    ) -> ApiKeyRow | None:
        """Change an active key's fields (of KEY_FIELDS; scopes a tuple) and record it in the
        audit log, in one transaction; None if no such active key. LastAdmin if the change
        takes the admin scope from the last admin key."""
        unknown = set(changes) - set(KEY_FIELDS)
        assert not unknown, unknown
        params: dict[str, Any] = {"id": key_id}
        for name in KEY_FIELDS:
            value = changes.get(name)
            if name == "scopes" and value is not None:
                value = ",".join(value)
            params[name], params["set_" + name] = value, name in changes
        with self.dialect.tx() as tx:
            key = _active(tx, key_id)
            if key is None:
                return None
            if "scopes" in changes and "admin" in key.scopes and "admin" not in changes["scopes"]:
                _keep_an_admin(tx, key_id)
            row = tx.one("update_key", **params)
            assert row is not None
            detail = {name: _plain(value) for name, value in changes.items()}
            _audit(tx, actor, "update", key_id, detail)
            return ApiKeyRow.from_row(row)

    def audit_log(
        self, key_id: str | None = None, *, limit: int = 100, before: int | None = None
    ) -> list[AuditEntry]:
        """The newest changes first (of one key, or all), before the entry ``before``."""
        rows = self.dialect.all("audit_log", key_id=key_id, limit=limit, before=before or 2**62)
        return [AuditEntry.from_row(row) for row in rows]

    def count_active_keys(self) -> int:
        return count_of(self.dialect.one("count_active_keys"))

    # --- usage ---------------------------------------------------------------------------
    def usage_hours(self, owner: str | None, from_hour: int, to_hour: int) -> list[UsageRow]:
        """Usage of owner (None: every key) by key, model and hour in [from_hour, to_hour)
        (unix seconds, multiples of 3600)."""
        rows = self.dialect.all("usage_hours", owner=owner, from_hour=from_hour, to_hour=to_hour)
        return [UsageRow.from_row(row) for row in rows]

    def usage_totals(self) -> list[UsageRow]:
        """Every key's usage so far by model (hour 0): the /metrics counters."""
        return [UsageRow.from_row(row) for row in self.dialect.all("usage_totals")]


def _active(tx: Tx, key_id: str) -> ApiKeyRow | None:
    tx.one("lock_keys")
    row = tx.one("get_key", id=key_id)
    key = ApiKeyRow.from_row(row) if row else None
    return key if key is not None and key.revoked_at is None else None


def _keep_an_admin(tx: Tx, key_id: str) -> None:
    if count_of(tx.one("count_active_admins", id=key_id)) == 0:
        raise LastAdmin(key_id)


def _audit(tx: Tx, actor: str, action: str, key_id: str, detail: dict[str, Any]) -> None:
    tx.rowcount("insert_audit", actor=actor, action=action, key_id=key_id, detail=dumps(detail))


def _described(key: ApiKeyRow) -> dict[str, Any]:
    """What the audit log keeps of a new key: never its hash or secrets."""
    return {name: _plain(getattr(key, name)) for name in KEY_FIELDS}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


__all__ = ["KeyRows", "LastAdmin", "KEY_FIELDS"]
