"""The namespaces of :class:`AsyncClient` for a shared fleet: ``usage`` (what a key used,
and its quotas) and ``admin`` (keys and their audit log; the key needs the ``admin``
scope, else every call raises :class:`PermissionDenied`).

``_admin.py`` (the namespaces of :class:`Client`) is generated from ``_async_admin.py``
by ``scripts/unasync.py``: edit the source, then run the script.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from editserve.client._admin_types import (
    GROUP_BY,
    ApiKey,
    AuditPage,
    TimeInput,
    UsageReport,
    key_body,
    key_id_of,
    time_param,
    usage_key_param,
)
from editserve.client._async_resources import _Owner, _Resource
from editserve.client._base import drop_none

__all__ = ["Admin", "Keys", "Usage"]


class Usage(_Resource):
    """``client.usage``: what this key (or, for an admin, any key) used, and its quotas."""

    async def get(
        self,
        from_: TimeInput | None = None,
        to: TimeInput | None = None,
        *,
        group_by: str = "day",
        key: str | ApiKey | None = None,
    ) -> UsageReport:
        """Usage between ``from_`` and ``to`` (``GET /api/ai/usage``), hour by hour, in rows
        of one day, model or key (``group_by``; ``"key"`` needs the admin scope).

        ``from_``/``to``: a ``date``, a ``datetime``, unix seconds or a string (a date
        ``YYYY-MM-DD``, an ISO-8601 time or unix seconds); the server's defaults are the
        last 30 days. ``key``: another key's id, or ``"all"`` (both need the admin scope).
        """
        if group_by not in GROUP_BY:
            raise ValueError(f"group_by: must be one of {', '.join(GROUP_BY)} (got {group_by!r})")
        params = drop_none(
            {
                "from": time_param("from_", from_),
                "to": time_param("to", to),
                "group_by": group_by,
                "key": usage_key_param(key),
            }
        )
        return UsageReport.from_json(
            await self._client._json("GET", "/api/ai/usage", params=params)
        )


class Keys(_Resource):
    """``client.admin.keys``: list, make, change and revoke API keys."""

    async def list(self) -> builtins.list[ApiKey]:
        """Every key, revoked ones too (``GET /api/admin/keys``)."""
        data = await self._client._json("GET", "/api/admin/keys")
        return [ApiKey.from_json(item) for item in data.get("keys") or []]

    async def create(
        self,
        name: str,
        *,
        scopes: str | Iterable[str] | None = None,
        weight: float | None = None,
        max_running: int | None = None,
        gpu_seconds_per_day: float | None = None,
        webhook_url: str | None = None,
    ) -> ApiKey:
        """Make a key (``POST /api/admin/keys``). The result's ``key`` is its secret and
        ``webhook_secret`` its webhook signing secret: shown only this once.

        ``scopes``: among ``admin``, ``submit``, ``read`` (a list or ``"submit,read"``;
        the server's default is submit and read). Quotas left ``None`` are unlimited.
        A connection dropped after the server made the key may, when retried, make a
        second one: ``list()`` shows it.
        """
        fields = {
            "name": name,
            "scopes": scopes,
            "weight": weight,
            "max_running": max_running,
            "gpu_seconds_per_day": gpu_seconds_per_day,
            "webhook_url": webhook_url,
        }
        body = key_body(drop_none(fields), what="admin.keys.create")
        return ApiKey.from_json(await self._client._json("POST", "/api/admin/keys", json=body))

    async def get(self, key: str | ApiKey) -> ApiKey:
        """One key, by id (``GET /api/admin/keys/{id}``)."""
        return ApiKey.from_json(
            await self._client._json("GET", f"/api/admin/keys/{key_id_of(key)}")
        )

    async def update(self, key: str | ApiKey, **changes: Any) -> ApiKey:
        """Change a key's ``name``, ``scopes``, ``weight``, ``max_running``,
        ``gpu_seconds_per_day`` or ``webhook_url`` (``PATCH /api/admin/keys/{id}``); only
        the fields given are sent, and ``None`` clears a quota or the webhook URL::

            client.admin.keys.update("key_ab12cd34ef56", max_running=4, gpu_seconds_per_day=None)
        """
        if not changes:
            raise TypeError("admin.keys.update: give at least one field to change")
        body = key_body(changes, what="admin.keys.update")
        path = f"/api/admin/keys/{key_id_of(key)}"
        return ApiKey.from_json(await self._client._json("PATCH", path, json=body))

    async def revoke(self, key: str | ApiKey) -> bool:
        """Revoke a key (``DELETE /api/admin/keys/{id}``): it is refused from now on.
        Returns whether the server reports it revoked. Revoking the last admin key is
        refused (409, :class:`InvalidRequestError`)."""
        data = await self._client._json("DELETE", f"/api/admin/keys/{key_id_of(key)}")
        return bool(data.get("revoked"))


class Admin(_Resource):
    """``client.admin``: the fleet's keys (``admin.keys``) and their audit log."""

    keys: Keys

    def __init__(self, client: _Owner) -> None:
        super().__init__(client)
        self.keys = Keys(client)

    async def audit(
        self,
        *,
        key_id: str | ApiKey | None = None,
        limit: int | None = None,
        before: int | None = None,
    ) -> AuditPage:
        """A page of the audit log of key changes, newest first (``GET
        /api/admin/audit``): only ``key_id``'s with it; ``before``: the ``next_before``
        of the previous page."""
        if limit is not None and limit < 1:
            raise ValueError(f"limit: must be at least 1 (got {limit})")
        params = drop_none(
            {
                "key_id": None if key_id is None else key_id_of(key_id),
                "limit": limit,
                "before": before,
            }
        )
        return AuditPage.from_json(
            await self._client._json("GET", "/api/admin/audit", params=params)
        )
