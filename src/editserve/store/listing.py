"""The store's reads: one generation, a key's lists and counts, queue positions, events.

Every read here costs the same with a thousand or a million generations in the history
(migration 004):

- **History pages by number.** Each key's generations are numbered 1, 2, 3... in enqueue
  order (``owner_seq``, assigned by a trigger whoever inserts the row), so page N of the
  unfiltered history is one index range, not an OFFSET over the rows before it.
- **Counts from counters.** Ended generations are counted per key, model and status in
  ``generation_counts`` (triggers keep it in the transaction of the change); active ones
  are counted on the ``(owner, status, seq)`` index: a key has few (the per-key limit).
- **Filtered lists** (some statuses, a model) read one status at a time in queue order and
  merge; a page deep inside a filtered list skips the rows before it on that index,
  counted from the nearer end (first and last pages cost the same).
- **Events**: one key's after an id (SSE replay), or every key's (the event hub's one
  reader per API process).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from editserve.domain.record import ACTIVE, TERMINAL, Event, Generation, Status
from editserve.store.dialect import Dialect, Row

# Columns the store keeps for itself; a Generation record does not have them.
# store-only columns: numbering, claim bookkeeping, fair-share tags (store/fairness.py)
_STORE_COLUMNS = ("owner_seq", "is_first", "event_owner", "event_id", "vtag", "fair_cost")


def gen_of(row: Row) -> Generation:
    """A generations row (or a claim's RETURNING row) as a record."""
    if any(column in row for column in _STORE_COLUMNS):
        row = {key: value for key, value in row.items() if key not in _STORE_COLUMNS}
    return Generation.from_row(row)


def gens_of(rows: list[Row]) -> list[Generation]:
    return [gen_of(row) for row in rows]


def count_of(row: Row | None) -> int:
    return int(row["n"]) if row and row["n"] is not None else 0


class ListingReads:
    """The read side of QueueStore (mixed in): lists, counts, positions and events."""

    dialect: Dialect

    def get_generation(self, generation_id: str, owner: str | None = None) -> Generation | None:
        row = self.dialect.one("get_generation", id=generation_id, owner=owner)
        return gen_of(row) if row else None

    def count_generations(
        self, owner: str, statuses: Sequence[Status] | None = None, model: str | None = None
    ) -> int:
        """How many of owner's generations have these statuses (all if None): no scan."""
        model = model or None
        wanted = list(dict.fromkeys(statuses)) if statuses else list(Status)
        total = sum(
            count_of(self.dialect.one("count_status", owner=owner, status=s.value, model=model))
            for s in wanted
            if s in ACTIVE
        )
        ended = [s.value for s in wanted if s in TERMINAL]
        if ended:
            row = self.dialect.one("count_ended", owner=owner, statuses=ended, model=model)
            total += count_of(row)
        return total

    def count_active(self, owner: str) -> int:
        return self.count_generations(owner, ACTIVE)

    def list_generations(
        self,
        owner: str,
        *,
        statuses: Sequence[Status] | None = None,
        model: str | None = None,
        limit: int = 50,
        offset: int = 0,
        newest_first: bool = True,
    ) -> tuple[list[Generation], int]:
        wanted, model = (list(dict.fromkeys(statuses)) if statuses else None), model or None
        total = self.count_generations(owner, wanted, model)
        if limit <= 0 or offset >= total:
            return [], total
        if wanted is None and model is None:
            return self._page_by_number(owner, limit, offset, newest_first), total
        # From the nearer end: the last page costs what the first does.
        backwards = offset > total // 2
        if backwards:
            limit, offset = min(limit, total - offset), max(0, total - offset - limit)
        rows = self._ordered(owner, wanted, model, limit, offset, newest_first != backwards)
        if backwards:
            rows.reverse()
        return gens_of(rows), total

    def _page_by_number(
        self, owner: str, limit: int, offset: int, newest_first: bool
    ) -> list[Generation]:
        """Rows [offset, offset + limit) of owner's history: one owner_seq range."""
        if newest_first:
            high = count_of(self.dialect.one("last_owner_seq", owner=owner)) - offset
            low = high - limit
        else:  # a prune removes a key's oldest: numbers start at the oldest kept
            low = count_of(self.dialect.one("first_owner_seq", owner=owner)) - 1 + offset
            high = low + limit
        rows = self.dialect.all("list_owner_range", owner=owner, low=max(low, 0), high=high)
        if not newest_first:
            rows.reverse()
        return gens_of(rows)

    def _ordered(
        self,
        owner: str,
        statuses: list[Status] | None,
        model: str | None,
        limit: int,
        offset: int,
        newest: bool,
    ) -> list[Row]:
        """limit rows after offset, in seq order, of the given statuses (or of a model)."""
        direction = "newest" if newest else "oldest"
        page: dict[str, Any] = {"owner": owner, "model": model}
        if statuses is None:
            return self.dialect.all(f"list_model_{direction}", **page, limit=limit, offset=offset)
        if len(statuses) == 1:
            page.update(status=statuses[0].value, limit=limit, offset=offset)
            return self.dialect.all(f"list_status_{direction}", **page)
        rows: list[Row] = []
        for status in statuses:  # each an ordered index range; merged by seq
            page.update(status=status.value, limit=offset + limit, offset=0)
            rows += self.dialect.all(f"list_status_{direction}", **page)
        rows.sort(key=lambda row: int(row["seq"]), reverse=newest)
        return rows[offset : offset + limit]

    def by_idempotency_key(self, owner: str, key: str) -> list[Generation]:
        return gens_of(self.dialect.all("by_idempotency_key", owner=owner, key=key))

    def queue_position(self, gen: Generation) -> int:
        """How many queued generations run before this one (0 = next)."""
        row = self.dialect.one("queue_position", priority=gen.priority, id=gen.id)
        return count_of(row)

    def recent_run_seconds(self, model: str, limit: int = 20) -> float | None:
        """Mean wall time of the last succeeded runs of a model (for ETAs)."""
        row = self.dialect.one(
            "recent_run_seconds", model=model, succeeded=Status.SUCCEEDED.value, limit=limit
        )
        return float(row["seconds"]) if row and row["seconds"] is not None else None

    def recent_step_seconds(self, model: str, limit: int = 20) -> float | None:
        """Wall seconds per denoising step of one output megapixel, over the last succeeded
        runs of a model that reported their steps (for ETAs that scale with a request)."""
        row = self.dialect.one(
            "recent_step_seconds", model=model, succeeded=Status.SUCCEEDED.value, limit=limit
        )
        return float(row["seconds"]) if row and row["seconds"] is not None else None

    def status_counts(self) -> dict[tuple[str, str], int]:
        """(model, status) → number of generations, over all keys (for /metrics)."""
        counts = {
            (row["model"], row["status"]): int(row["n"])
            for row in self.dialect.all("ended_counts")
            if row["n"]
        }
        for status in ACTIVE:
            for row in self.dialect.all("status_counts_by_model", status=status.value):
                counts[(row["model"], status.value)] = int(row["n"])
        return counts

    # --- events --------------------------------------------------------------------------
    def events_after(self, owner: str, after_id: int, limit: int = 500) -> list[Event]:
        rows = self.dialect.all("events_after", owner=owner, after_id=after_id, limit=limit)
        return [Event.from_row(row) for row in rows]

    def events_after_any(self, after_id: int, limit: int = 500) -> list[Event]:
        rows = self.dialect.all("events_after_any", after_id=after_id, limit=limit)
        return [Event.from_row(row) for row in rows]

    def last_event_id(self, owner: str | None = None) -> int:
        if owner is None:
            return count_of(self.dialect.one("last_event_id_any"))
        return count_of(self.dialect.one("last_event_id", owner=owner))

    async def wait_for_events(self, owner: str | None, after_id: int, timeout: float) -> bool:
        """Wait up to timeout for a hint of events after after_id (of owner, or of any key
        if owner is None); see Store.wait_for_events."""
        return await self.dialect.wait_for_events(owner, after_id, timeout)


__all__ = ["ListingReads", "count_of", "gen_of", "gens_of"]
