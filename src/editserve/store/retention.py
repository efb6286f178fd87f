"""Retention: what ``editserve prune`` deletes, in bounded batches (migration 010).

- **Generations go oldest first, per key**: a key's generations are walked by number
  (``owner_seq``) and only a run from the oldest may go, so numbers stay contiguous and
  history pages by number stay exact (listing.py); the per-key counters follow through
  the delete triggers of migration 004. Only ended generations (succeeded, failed,
  cancelled) ended before the cutoff go, checked again in the deleting statement: a live
  (queued or processing) generation is never touched.
- **Blobs after rows**: a batch's delete notes its blobs in ``prune_blobs`` in the same
  transaction; blobs are deleted after the commit, and each note is dropped once its blob
  is gone (or still used). A prune that dies in between leaves notes, never a row that
  points at a missing blob; the next prune finishes them.
- **Still used?** ``input_refs`` (a trigger fills it from generations.inputs) and the
  uploads' keys say whether a kept generation or upload uses a blob: one index lookup.
- **One node at a time**: a lease row (``maintenance_leases``) with an expiry, taken or
  renewed before every batch; a node that dies lets it run out.
- **Counted in the store**: ``pruned_totals`` by kind, so /metrics on any node shows the
  fleet's totals, and they survive restarts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from editserve.domain.record import TERMINAL
from editserve.store.dialect import Dialect, Row

PRUNE_LEASE = "prune"
ENDED = [status.value for status in TERMINAL]
OUTPUTS = "outputs"
INPUTS = "inputs"


def input_keys(inputs: Any) -> tuple[str, ...]:
    """The blob keys of a generation's stored inputs (the JSON column or the list)."""
    items = json.loads(inputs) if isinstance(inputs, str) else inputs
    if not isinstance(items, list):
        return ()
    keys = (item.get("key") for item in items if isinstance(item, dict))
    return tuple(dict.fromkeys(key for key in keys if isinstance(key, str) and key))


@dataclass(frozen=True)
class OldGeneration:
    """A generation a prune may delete, and the blobs it names."""

    id: str
    owner_seq: int
    result_key: str | None
    input_keys: tuple[str, ...]
    layer_keys: tuple[str, ...] = ()  # a layered model's outputs (result_key among them)

    @property
    def output_keys(self) -> tuple[str, ...]:
        """Every output blob: the result and the layers, once each."""
        keys = ([self.result_key] if self.result_key else []) + list(self.layer_keys)
        return tuple(dict.fromkeys(keys))


@dataclass(frozen=True)
class PruneLease:
    """Who holds the prune lease now (None: nobody), and when a prune last finished."""

    holder: str | None
    last_finished_at: float | None


class Retention:
    """The retention reads and deletes of QueueStore (mixed in)."""

    dialect: Dialect

    # --- the lease -------------------------------------------------------------------------
    def take_prune_lease(self, holder: str, ttl_seconds: float) -> bool:
        """Take the prune lease for ttl_seconds, or renew it if holder has it already."""
        params = {"name": PRUNE_LEASE, "holder": holder, "ttl": float(ttl_seconds)}
        return self.dialect.rowcount("prune_lease_take", **params) > 0

    def release_prune_lease(self, holder: str, finished: bool) -> None:
        """Give the lease back; a finished run stamps last_finished_at."""
        params = {"name": PRUNE_LEASE, "holder": holder, "finished": finished}
        self.dialect.rowcount("prune_lease_release", **params)

    def prune_lease(self) -> PruneLease:
        row = self.dialect.one("prune_lease_read", name=PRUNE_LEASE)
        if row is None:
            return PruneLease(None, None)
        held = float(row["expires_at"]) > float(row["now"])
        finished = row["last_finished_at"]
        return PruneLease(
            row["holder"] if held else None, float(finished) if finished is not None else None
        )

    # --- generations -----------------------------------------------------------------------
    def prune_owners(self) -> list[str]:
        """Every key that has generations."""
        return [str(row["owner"]) for row in self.dialect.all("prune_owners")]

    def old_generations(
        self, owner: str, cutoff: float, after: int, limit: int
    ) -> tuple[list[OldGeneration], bool]:
        """Owner's generations numbered after ``after`` that may go: ended before cutoff,
        and only a run from the first of them. (them, True when the key has no more)."""
        rows = self.dialect.all("prune_owner_walk", owner=owner, after=after, limit=limit)
        found: list[OldGeneration] = []
        for row in rows:
            ended_at = (
                row["completed_at"] if row["completed_at"] is not None else row["enqueued_at"]
            )
            if row["status"] not in ENDED or float(ended_at) >= cutoff:
                return found, True
            found.append(_old(row))
        return found, len(rows) < limit

    def delete_generations(self, ids: Sequence[str], cutoff: float) -> dict[str, int]:
        """Delete these ended generations (those still ended before cutoff) with their
        webhook deliveries, noting their blobs; one transaction. Counts by kind."""
        with self.dialect.tx() as tx:
            rows = tx.all("prune_delete_generations", ids=list(ids), ended=ENDED, cutoff=cutoff)
            gone = [_old(row) for row in rows]
            deliveries = tx.rowcount("prune_delete_deliveries", ids=[gen.id for gen in gone])
            for gen in gone:
                for key in gen.output_keys:
                    tx.rowcount("prune_note_blob", key=key, kind=OUTPUTS)
                for key in gen.input_keys:
                    tx.rowcount("prune_note_blob", key=key, kind=INPUTS)
            counts = {"generations": len(gone), "webhook_deliveries": max(deliveries, 0)}
            for kind, n in counts.items():
                if n:
                    tx.rowcount("prune_count", kind=kind, n=n)
            return counts

    # --- uploads ---------------------------------------------------------------------------
    def old_uploads(
        self, cutoff: float, limit: int, after: tuple[float, str] = (-1.0, "")
    ) -> list[tuple[str, str, float]]:
        """(id, key, created_at) of up to limit uploads made before cutoff, oldest first,
        after the (created_at, id) ``after``."""
        rows = self.dialect.all(
            "prune_old_uploads", cutoff=cutoff, limit=limit, after_at=after[0], after_id=after[1]
        )
        return [(str(row["id"]), str(row["key"]), float(row["created_at"])) for row in rows]

    def delete_uploads(self, ids: Sequence[str], cutoff: float) -> int:
        """Delete these uploads (those still made before cutoff), noting their blobs."""
        with self.dialect.tx() as tx:
            rows = tx.all("prune_delete_uploads", ids=list(ids), cutoff=cutoff)
            for row in rows:
                tx.rowcount("prune_note_blob", key=row["key"], kind=INPUTS)
            if rows:
                tx.rowcount("prune_count", kind="uploads", n=len(rows))
            return len(rows)

    # --- events ----------------------------------------------------------------------------
    def event_walk(self, after: int, limit: int) -> list[tuple[int, float, str | None]]:
        """(id, created_at, its generation's status or None) of events after id ``after``."""
        rows = self.dialect.all("prune_event_walk", after=after, limit=limit)
        return [(int(row["id"]), float(row["created_at"]), row["status"]) for row in rows]

    def delete_events(self, ids: Sequence[int], cutoff: float) -> int:
        with self.dialect.tx() as tx:
            n = tx.rowcount("prune_delete_events", ids=[int(i) for i in ids], cutoff=cutoff)
            if n > 0:
                tx.rowcount("prune_count", kind="events", n=n)
            return max(n, 0)

    # --- blobs -----------------------------------------------------------------------------
    def pending_blobs(self, limit: int) -> list[tuple[str, str]]:
        """(key, kind) of blobs whose rows a prune deleted, not dealt with yet."""
        rows = self.dialect.all("prune_pending_blobs", limit=limit)
        return [(str(row["key"]), str(row["kind"])) for row in rows]

    def blob_in_use(self, key: str) -> bool:
        """Whether a kept generation takes the blob as an input, or a kept upload holds it."""
        row = self.dialect.one("prune_blob_in_use", key=key)
        return bool(row and row["n"])

    def forget_blob(self, key: str, kind: str, deleted: bool) -> None:
        """The noted blob is dealt with: deleted (counted), or kept because it is used."""
        with self.dialect.tx() as tx:
            if tx.rowcount("prune_forget_blob", key=key) > 0 and deleted:
                tx.rowcount("prune_count", kind=kind, n=1)

    def blob_users(self, keys: Sequence[str]) -> dict[str, set[str]]:
        """Generation and upload ids that use each of these blobs (a dry run's question)."""
        users: dict[str, set[str]] = {key: set() for key in keys}
        if keys:
            for row in self.dialect.all("prune_key_users", keys=list(keys)):
                users.setdefault(str(row["key"]), set()).add(str(row["used_by"]))
        return users

    def pruned_totals(self) -> dict[str, int]:
        """What prunes deleted so far, by kind."""
        return {str(row["kind"]): int(row["n"]) for row in self.dialect.all("pruned_totals")}


def _old(row: Row) -> OldGeneration:
    return OldGeneration(
        id=str(row["id"]),
        owner_seq=int(row.get("owner_seq") or 0),
        result_key=row["result_key"],
        input_keys=input_keys(row["inputs"]),
        layer_keys=_layer_keys(row.get("layer_keys")),
    )


def _layer_keys(value: Any) -> tuple[str, ...]:
    """The layer keys of a generation (the JSON column), in order."""
    items = json.loads(value) if isinstance(value, str) else value
    if not isinstance(items, list):
        return ()
    return tuple(key for key in items if isinstance(key, str) and key)


__all__ = ["PRUNE_LEASE", "OldGeneration", "PruneLease", "Retention", "input_keys"]
