"""Batches (migration 014): one submission of up to 10,000 requests, each item an ordinary
generation pointing at its batch. The batch row's counts move with its items (a trigger),
so a batch's progress is one row read; its items are read in order, a page at a time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from editserve.domain.record import Generation, Status
from editserve.store.dialect import Dialect
from editserve.store.listing import count_of, gens_of


@dataclass(frozen=True)
class BatchRow:
    id: str
    owner: str
    status: str  # running | completed | cancelled
    total: int
    priority: int
    created_at: float
    processing: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    webhook: str | None = None
    metadata: dict[str, Any] | None = None
    request_hash: str | None = None
    idempotency_key: str | None = None
    finished_at: float | None = None
    cancel_requested: bool = False

    @property
    def queued(self) -> int:
        return self.total - self.processing - self.ended

    @property
    def ended(self) -> int:
        return self.succeeded + self.failed + self.cancelled

    @classmethod
    def from_row(cls, row: Any) -> BatchRow:
        data = dict(row)
        data["metadata"] = json.loads(data["metadata"]) if data.get("metadata") else None
        data["cancel_requested"] = bool(data.get("cancel_requested"))
        return cls(**data)

    def insert_params(self) -> dict[str, Any]:
        names = ("id", "owner", "total", "priority", "webhook", "request_hash",
                 "idempotency_key", "created_at")  # fmt: skip
        params = {name: getattr(self, name) for name in names}
        params["metadata"] = json.dumps(self.metadata) if self.metadata is not None else None
        return params


class BatchRows:
    """The batch side of QueueStore (mixed in); insert_batch is in store/core.py (it shares
    the generations' insert)."""

    dialect: Dialect

    def get_batch(self, batch_id: str, owner: str | None = None) -> BatchRow | None:
        """The batch (the owner's, if given)."""
        if owner is None:
            row = self.dialect.one("batch_by_id", id=batch_id)
        else:
            row = self.dialect.one("get_batch", id=batch_id, owner=owner)
        return BatchRow.from_row(row) if row else None

    def batch_by_idempotency_key(self, owner: str, key: str) -> BatchRow | None:
        row = self.dialect.one("batch_by_idempotency_key", owner=owner, key=key)
        return BatchRow.from_row(row) if row else None

    def list_batches(
        self, owner: str, limit: int = 50, before: tuple[float, str] | None = None
    ) -> list[BatchRow]:
        """The owner's batches, newest first, before (created_at, id)."""
        at, batch_id = before if before is not None else (float("inf"), "")
        rows = self.dialect.all(
            "list_batches", owner=owner, before_at=min(at, 1e18), before_id=batch_id or "~",
            limit=limit,
        )  # fmt: skip
        return [BatchRow.from_row(row) for row in rows]

    def batch_items(self, batch_id: str, after: int = -1, limit: int = 500) -> list[Generation]:
        """A page of the batch's items in order, after the item numbered ``after``."""
        rows = self.dialect.all("batch_items", batch_ref=batch_id, after=after, limit=limit)
        return gens_of(rows)

    def batch_backlog(self, owner: str) -> int:
        """The owner's batch items not ended yet (from the batches' counts)."""
        return count_of(self.dialect.one("owner_batch_backlog", owner=owner))

    def count_interactive_active(self, owner: str) -> int:
        """The owner's queued and processing generations that are not batch items."""
        return count_of(self.dialect.one("count_owner_active", owner=owner))

    def cancel_batch(self, batch_id: str, owner: str) -> BatchRow | None:
        """Cancel what of the batch has not started (what runs finishes); the batch ends when
        its running items do. None if the owner has no such batch."""
        with self.dialect.tx() as tx:
            tx.rowcount("flag_batch_cancel", id=batch_id, owner=owner)
            tx.rowcount("cancel_batch_queued", id=batch_id, cancelled=Status.CANCELLED.value)
            row = tx.one("get_batch", id=batch_id, owner=owner)
        return BatchRow.from_row(row) if row else None


__all__ = ["BatchRow", "BatchRows"]
