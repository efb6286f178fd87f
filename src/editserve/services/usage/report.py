"""GET /api/ai/usage and the GPU-seconds quota: reading what finishes recorded.

Usage is kept by the hour (usage_hours), so ``from`` and ``to`` are taken to the hour
(from down, to up); a day is a UTC day. A key sees its own usage; a key with the admin
scope may ask for another key's (``key=<id>``) or every key's (``key=all``, and
``group_by=key``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Protocol

from editserve.core.errors import Forbidden, InvalidParams, RateLimited
from editserve.core.settings import Settings
from editserve.services.keys import Caller
from editserve.services.usage.prices import PriceTable
from editserve.services.usage.wire import QuotaView, UsageFigures, UsageReport, UsageRow
from editserve.store import KeyStore, UsageStore
from editserve.store.rows import UsageRow as StoredUsage

HOUR = 3600
DAY = 24 * HOUR
DEFAULT_DAYS = 30
MAX_DAYS = 400
GROUPS = ("day", "model", "key")
LATEST = 253_402_300_799.0  # 9999-12-31T23:59:59Z: the last time an ISO date can say


class UsageKeys(UsageStore, KeyStore, Protocol):
    """What usage reads: usage_hours, and the keys' quotas."""

    def count_interactive_active(self, owner: str) -> int: ...


class UsageService:
    def __init__(self, settings: Settings, store: UsageKeys, prices: PriceTable) -> None:
        self.settings = settings
        self.store = store
        self.prices = prices

    # --- the report ----------------------------------------------------------------------
    def report(self, caller: Caller, query: Mapping[str, str]) -> UsageReport:
        unknown = set(query) - {"from", "to", "group_by", "key"}
        if unknown:
            raise InvalidParams(f"{sorted(unknown)[0]}: not a parameter of /api/ai/usage")
        now = time.time()
        end = _hour_up(parse_time(query["to"], "to") if "to" in query else now)
        start = _hour_down(parse_time(query["from"], "from")) if "from" in query else (
            end - DEFAULT_DAYS * DAY
        )  # fmt: skip
        if start >= end:
            raise InvalidParams("from: must be before to")
        if end - start > MAX_DAYS * DAY:
            raise InvalidParams(f"from: at most {MAX_DAYS} days before to")
        group_by = query.get("group_by", "day")
        if group_by not in GROUPS:
            raise InvalidParams("group_by: must be one of day, model, key")
        key = self._key_asked(caller, query.get("key"), group_by)
        stored = self.store.usage_hours(None if key == "all" else key, start, end)
        rows = _grouped(stored, group_by, self.prices)
        return UsageReport.model_validate({
            "from": _iso(start), "to": _iso(end), "group_by": group_by, "key": key,
            "currency": self.prices.currency if self.prices.set else None, "rows": rows,
            "total": _total(rows, priced=self.prices.set),
            "quotas": None if key == "all" else self.quotas(key, now),
        })  # fmt: skip

    def _key_asked(self, caller: Caller, asked: str | None, group_by: str) -> str:
        if asked in (None, "", caller.id) and group_by != "key":
            return caller.id
        if not caller.may("admin"):
            what = "group_by=key" if group_by == "key" else "key"
            raise Forbidden(f"{what}: another key's usage needs a key with the 'admin' scope")
        if group_by == "key" or asked == "all":
            return "all"
        assert asked is not None
        if self.store.get_key(asked) is None:
            raise InvalidParams(f"key: no key {asked!r}")
        return asked

    # --- quotas --------------------------------------------------------------------------
    def quotas(self, owner: str, now: float | None = None) -> QuotaView:
        key = self.store.get_key(owner)
        last_day = self._last_day(owner, now or time.time())
        max_running = key.max_running if key and key.max_running is not None else None
        return QuotaView(
            weight=key.weight if key else 1.0,
            max_running=max_running or self.settings.max_queued_per_key,
            running=self.store.count_interactive_active(owner),
            gpu_seconds_per_day=self._daily_limit(key.gpu_seconds_per_day if key else None),
            gpu_seconds_last_24h=round(sum(last_day.values()), 3),
        )

    def check_enqueue(self, owner: str) -> None:
        """RateLimited (429, Retry-After) naming the quota if the key used its GPU seconds
        of the last 24 hours; nothing is read without a limit."""
        key = self.store.get_key(owner)
        limit = self._daily_limit(key.gpu_seconds_per_day if key else None)
        if limit is None:
            return
        now = time.time()
        by_hour = self._last_day(owner, now)
        used = sum(by_hour.values())
        if used < limit:
            return
        # the hours roll out of the window oldest first: wait until enough have
        left, wait_until = used, now
        for hour in sorted(by_hour):
            left -= by_hour[hour]
            wait_until = hour + HOUR + DAY
            if left < limit:
                break
        raise RateLimited(
            f"quota gpu_seconds_per_day: this key used {used:.1f} of its {limit:g} GPU "
            "seconds in the last 24 hours; retry when older usage rolls out of the window",
            retry_after=max(1, math.ceil(wait_until - now)),
        )

    def _daily_limit(self, own: float | None) -> float | None:
        limit = own if own is not None else self.settings.gpu_seconds_per_day
        return limit if limit and limit > 0 else None

    def _last_day(self, owner: str, now: float) -> dict[int, float]:
        """GPU seconds by hour over the 24 hours up to now (the current hour included)."""
        end = _hour_up(now + 1)
        rows = self.store.usage_hours(owner, end - DAY, end)
        by_hour: dict[int, float] = {}
        for row in rows:
            by_hour[row.hour] = by_hour.get(row.hour, 0.0) + row.gpu_seconds
        return by_hour


def parse_time(text: str, field: str) -> float:
    """Unix seconds of a date (YYYY-MM-DD, UTC midnight), an ISO 8601 time (UTC unless it
    says), or unix seconds; InvalidParams naming the field otherwise."""
    text = text.strip()
    try:
        if text.replace(".", "", 1).isdigit():
            return _in_range(float(text), field)
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParams(
            f"{field}: must be a date (YYYY-MM-DD), an ISO 8601 time or unix seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _in_range(moment.timestamp(), field)


def _in_range(seconds: float, field: str) -> float:
    if not 0 <= seconds <= LATEST:
        raise InvalidParams(f"{field}: must be between 1970-01-01 and 9999-12-31")
    return seconds


def _grouped(stored: list[StoredUsage], group_by: str, prices: PriceTable) -> list[UsageRow]:
    groups: dict[str, dict[str, float]] = {}
    for row in stored:
        name = {"day": _day(row.hour), "model": row.model, "key": row.owner}[group_by]
        sums = groups.setdefault(name, {"generations": 0, "succeeded": 0, "gpu_seconds": 0.0,
                                        "output_megapixels": 0.0, "cost": 0.0})  # fmt: skip
        sums["generations"] += row.generations
        sums["succeeded"] += row.succeeded
        sums["gpu_seconds"] += row.gpu_seconds
        sums["output_megapixels"] += row.output_megapixels
        cost = prices.cost(row.model, row.succeeded, row.gpu_seconds)
        sums["cost"] = math.nan if cost is None else sums["cost"] + cost
    return [
        UsageRow(
            **{group_by: name},
            generations=int(sums["generations"]),
            succeeded=int(sums["succeeded"]),
            gpu_seconds=round(sums["gpu_seconds"], 3),
            output_megapixels=round(sums["output_megapixels"], 6),
            cost=None if math.isnan(sums["cost"]) or not prices.set else round(sums["cost"], 6),
        )  # fmt: skip
        for name, sums in sorted(groups.items())
    ]


def _total(rows: list[UsageRow], *, priced: bool) -> UsageFigures:
    costs = [row.cost for row in rows]
    return UsageFigures(
        generations=sum(row.generations for row in rows),
        succeeded=sum(row.succeeded for row in rows),
        gpu_seconds=round(sum(row.gpu_seconds for row in rows), 3),
        output_megapixels=round(sum(row.output_megapixels for row in rows), 6),
        cost=round(sum(c for c in costs if c is not None), 6)
        if priced and None not in costs
        else None,
    )


def _hour_down(t: float) -> int:
    return int(t // HOUR) * HOUR


def _hour_up(t: float) -> int:
    return int(math.ceil(t / HOUR)) * HOUR


def _day(hour: int) -> str:
    return datetime.fromtimestamp(hour, tz=UTC).date().isoformat()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = ["UsageService", "parse_time"]
