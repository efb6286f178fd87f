"""What a prune reports, and what it never touches: the kinds it deletes, in order, and the
statuses of a live generation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from editserve.domain.record import ACTIVE
from editserve.store.retention import INPUTS, OUTPUTS

KINDS = ("generations", OUTPUTS, INPUTS, "uploads", "events", "webhook_deliveries")
LIVE = frozenset(status.value for status in ACTIVE)


class LeaseLost(RuntimeError):
    """Another node took the prune lease mid-run (ours ran out): this run stops."""


@dataclass
class PruneReport:
    """What a prune deleted (or, dry, would delete)."""

    older_than_days: float
    cutoff: float
    dry_run: bool
    ran: bool = True  # False: another node holds the lease, nothing was done
    holder: str | None = None  # who held it then
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    stopped: bool = False  # asked to stop (shutdown) before the end

    def add(self, kind: str, n: int) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n

    def to_dict(self) -> dict[str, Any]:
        return {
            "ran": self.ran,
            "dry_run": self.dry_run,
            "older_than_days": self.older_than_days,
            "cutoff": self.cutoff,
            "held_by": self.holder,
            "stopped": self.stopped,
            "deleted" if not self.dry_run else "would_delete": dict(self.counts),
        }
