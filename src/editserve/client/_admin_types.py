"""What ``client.usage`` and ``client.admin`` return (:class:`UsageReport`, :class:`ApiKey`,
:class:`AuditPage`, ...) and the request helpers they share. No I/O here.

Like the other result types, each keeps the whole decoded object in ``raw``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "GROUP_BY",
    "KEY_FIELDS",
    "SCOPES",
    "ApiKey",
    "AuditEntry",
    "AuditPage",
    "Quotas",
    "UsageReport",
    "UsageRow",
    "key_body",
    "key_id_of",
    "time_param",
    "usage_key_param",
]

GROUP_BY = ("day", "model", "key")
SCOPES = ("admin", "submit", "read")
# The fields of a key that admin.keys.create and admin.keys.update send.
KEY_FIELDS = ("name", "scopes", "weight", "max_running", "gpu_seconds_per_day", "webhook_url")

TimeInput = str | int | float | dt.date | dt.datetime


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _weight(data: Mapping[str, Any]) -> float:
    weight = _float(data.get("weight"))
    return 1.0 if weight is None else weight


@dataclass(frozen=True)
class UsageRow:
    """One row of a usage report (or its total): what the key's generations used.

    ``group`` is the row's day (``YYYY-MM-DD``), model id or key id, after the report's
    ``group_by``; ``None`` for the total.
    """

    generations: int = 0
    succeeded: int = 0
    gpu_seconds: float = 0.0
    output_megapixels: float = 0.0
    cost: float | None = None
    group: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], group_by: str | None = None) -> UsageRow:
        group = data.get(group_by) if group_by else None
        return cls(
            generations=int(data.get("generations") or 0),
            succeeded=int(data.get("succeeded") or 0),
            gpu_seconds=float(data.get("gpu_seconds") or 0.0),
            output_megapixels=float(data.get("output_megapixels") or 0.0),
            cost=_float(data.get("cost")),
            group=None if group is None else str(group),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Quotas:
    """A key's limits and where it stands: running generations against ``max_running``,
    GPU-seconds of the last 24 hours against ``gpu_seconds_per_day`` (``None``: no limit),
    and its fair-share ``weight``."""

    running: int = 0
    max_running: int | None = None
    gpu_seconds_last_24h: float = 0.0
    gpu_seconds_per_day: float | None = None
    weight: float = 1.0
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Quotas:
        return cls(
            running=int(data.get("running") or 0),
            max_running=_int(data.get("max_running")),
            gpu_seconds_last_24h=float(data.get("gpu_seconds_last_24h") or 0.0),
            gpu_seconds_per_day=_float(data.get("gpu_seconds_per_day")),
            weight=_weight(data),
            raw=dict(data),
        )


@dataclass(frozen=True)
class UsageReport:
    """``GET /api/ai/usage``: rows grouped by day, model or key, their total, and the
    key's quotas. ``cost`` values are in ``currency``, or ``None`` without a price table."""

    from_: str | None
    to: str | None
    group_by: str
    key: str | None
    currency: str | None
    rows: list[UsageRow]
    total: UsageRow
    quotas: Quotas | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UsageReport:
        group_by = str(data.get("group_by") or "day")
        quotas = data.get("quotas")
        return cls(
            from_=data.get("from"),
            to=data.get("to"),
            group_by=group_by,
            key=data.get("key"),
            currency=data.get("currency"),
            rows=[UsageRow.from_json(row, group_by) for row in data.get("rows") or []],
            total=UsageRow.from_json(data.get("total") or {}),
            quotas=Quotas.from_json(quotas) if isinstance(quotas, Mapping) else None,
            raw=dict(data),
        )

    def __iter__(self) -> Iterator[UsageRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class ApiKey:
    """An API key as the admin API shows it (never its secret, except right after
    ``admin.keys.create``: then ``key`` is the secret and ``webhook_secret`` the key's
    webhook signing secret, each shown only that once)."""

    id: str
    name: str | None = None
    prefix: str | None = None
    created_at: int | None = None
    revoked_at: int | None = None
    scopes: list[str] = field(default_factory=list)
    weight: float = 1.0
    max_running: int | None = None
    gpu_seconds_per_day: float | None = None
    webhook_url: str | None = None
    key: str | None = field(default=None, repr=False)
    webhook_secret: str | None = field(default=None, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ApiKey:
        return cls(
            id=str(data.get("id") or ""),
            name=data.get("name"),
            prefix=data.get("prefix"),
            created_at=_int(data.get("created_at")),
            revoked_at=_int(data.get("revoked_at")),
            scopes=[str(s) for s in data.get("scopes") or []],
            weight=_weight(data),
            max_running=_int(data.get("max_running")),
            gpu_seconds_per_day=_float(data.get("gpu_seconds_per_day")),
            webhook_url=data.get("webhook_url"),
            key=data.get("key"),
            webhook_secret=data.get("webhook_secret"),
            raw=dict(data),
        )

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class AuditEntry:
    """One change of a key: who (``actor``, a key id) did what (``create``, ``update``,
    ``revoke``) to which key, when (unix seconds), with what (``detail``)."""

    seq: int
    at: float | None = None
    actor: str | None = None
    action: str = ""
    key_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditEntry:
        detail = data.get("detail")
        return cls(
            seq=int(data.get("seq") or 0),
            at=_float(data.get("at")),
            actor=data.get("actor"),
            action=str(data.get("action") or ""),
            key_id=data.get("key_id"),
            detail=dict(detail) if isinstance(detail, Mapping) else {},
            raw=dict(data),
        )


@dataclass(frozen=True)
class AuditPage:
    """A page of the audit log, newest first; pass ``next_before`` as ``before`` for the
    next (older) page (``None``: this is the last)."""

    entries: list[AuditEntry]
    next_before: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditPage:
        return cls(
            entries=[AuditEntry.from_json(e) for e in data.get("entries") or []],
            next_before=_int(data.get("next_before")),
            raw=dict(data),
        )

    def __iter__(self) -> Iterator[AuditEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


# --- request helpers ------------------------------------------------------------------------


def time_param(name: str, value: TimeInput | None) -> str | None:
    """A ``from``/``to`` query value: a date as ``YYYY-MM-DD``, a datetime as unix seconds
    (a naive one is local time, as Python's ``timestamp()`` has it), a number as unix
    seconds, a string as given (a date, an ISO-8601 time or unix seconds)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return str(int(value.timestamp()))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(f"{name}: give a date, a datetime, unix seconds or a string")
    text = str(int(value)) if isinstance(value, (int, float)) else value.strip()
    if not text:
        raise ValueError(f"{name}: must not be empty")
    return text


def key_id_of(key: str | ApiKey) -> str:
    """A key's id, from an :class:`ApiKey` or the id itself (``key_…``)."""
    key_id = key.id if isinstance(key, ApiKey) else str(key).strip()
    if not key_id or "/" in key_id:
        raise ValueError(f"key id: expected an id like key_…, got {key_id!r}")
    return key_id


def usage_key_param(key: str | ApiKey | None) -> str | None:
    """The ``key`` query value of a usage report: a key's id, ``all`` or none (this key)."""
    if key is None:
        return None
    if isinstance(key, str) and key.strip() == "all":
        return "all"
    return key_id_of(key)


def _scopes(value: str | Iterable[str]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    scopes = [str(item).strip() for item in items if str(item).strip()]
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValueError(f"scopes: unknown scope {unknown[0]!r} (known: {', '.join(SCOPES)})")
    return list(dict.fromkeys(scopes))


def key_body(changes: Mapping[str, Any], *, what: str) -> dict[str, Any]:
    """The JSON body of a key's creation or change; ``None`` is sent as ``null`` (which
    clears a quota or the webhook URL). ``what`` names the call in errors."""
    unknown = sorted(set(changes) - set(KEY_FIELDS))
    if unknown:
        raise TypeError(f"{what}: unknown field {unknown[0]!r} (fields: {', '.join(KEY_FIELDS)})")
    body = dict(changes)
    if body.get("scopes") is not None:
        body["scopes"] = _scopes(body["scopes"])
    if "name" in body and body["name"] is None:
        raise ValueError(f"{what}: name must not be null")
    return body
