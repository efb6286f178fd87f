"""The store's role for batches (store/batches.py; migration 014)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from editserve.domain.record import Generation
from editserve.store.batches import BatchRow


class BatchStore(Protocol):
    """Batches: submit, read, list, cancel, their items in order.

    Used by services/batches (the batch service, its manifest and zip), the webhook
    dispatcher (a batch.completed delivery's body) and the generation service (quotas).
    """

    def insert_batch(
        self,
        batch: BatchRow,
        generations: Sequence[Generation],
        *,
        costs: dict[str, float] | None = None,
    ) -> None:
        """The batch and its items, in one transaction, in item order (not under the
        per-key queue limit)."""
        ...

    def get_batch(self, batch_id: str, owner: str | None = None) -> BatchRow | None: ...

    def batch_by_idempotency_key(self, owner: str, key: str) -> BatchRow | None: ...

    def list_batches(
        self, owner: str, limit: int = 50, before: tuple[float, str] | None = None
    ) -> list[BatchRow]:
        """The owner's batches, newest first, before (created_at, id)."""
        ...

    def batch_items(self, batch_id: str, after: int = -1, limit: int = 500) -> list[Generation]:
        """A page of a batch's items in item order, after the item numbered ``after``."""
        ...

    def batch_backlog(self, owner: str) -> int:
        """The owner's batch items not ended yet (the batches' counts: no scan)."""
        ...

    def count_interactive_active(self, owner: str) -> int:
        """The owner's queued and processing generations that are not batch items (what
        max_running counts)."""
        ...

    def cancel_batch(self, batch_id: str, owner: str) -> BatchRow | None:
        """Cancel the batch's items that have not started; None if no such batch."""
        ...


__all__ = ["BatchStore"]
