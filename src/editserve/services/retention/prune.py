"""One prune: what is older than the cutoff goes, in bounded batches, one node at a time.

Order of a run (each batch its own short transaction, the lease renewed before each):

1. blobs a dead prune left noted (store/retention.py: rows first, blobs after);
2. uploads made before the cutoff (their input blobs noted, then deleted if unused);
3. per key, its oldest generations ended before the cutoff, with their webhook deliveries
   (their output and input blobs noted); the noted blobs are deleted after each batch
   unless a kept generation or upload still uses them;
4. events made before the cutoff, except those of live (queued, processing) generations.

A dry run walks the same rows and counts what would go; it writes nothing and takes no
lease. Nothing a live generation references is deleted: its row is never selected, its
inputs stay referenced (``input_refs``) and its events are skipped.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from editserve.blobs.base import BlobStorage
from editserve.core.errors import NotFound
from editserve.services.retention.dry import count_prunable
from editserve.services.retention.report import KINDS, LIVE, LeaseLost, PruneReport
from editserve.store import PruneStore
from editserve.store.retention import OUTPUTS

__all__ = ["KINDS", "LIVE", "LeaseLost", "PruneReport", "Pruner", "node_id"]

log = logging.getLogger("editserve.services.retention")

DAY = 86400.0
BATCH = 200  # rows per transaction
LEASE_SECONDS = 300.0  # renewed before every batch; a dead node's runs out


def node_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Pruner:
    """Prunes one store and its blob storage (synchronous: run it in a thread)."""

    def __init__(
        self,
        store: PruneStore,
        storage: BlobStorage,
        *,
        batch: int = BATCH,
        holder: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.storage = storage
        self.batch = max(1, batch)
        self.holder = holder or node_id()
        self.lease_seconds = lease_seconds
        self.stop = stop or threading.Event()
        self.clock = clock

    def run(self, older_than_days: float, *, dry_run: bool = False) -> PruneReport:
        if not older_than_days > 0:
            raise ValueError("older_than_days must be a positive number of days")
        cutoff = self.clock() - older_than_days * DAY
        report = PruneReport(older_than_days, cutoff, dry_run)
        if dry_run:
            count_prunable(self.store, cutoff, self.batch, report)
            return report
        if not self.store.take_prune_lease(self.holder, self.lease_seconds):
            report.ran, report.holder = False, self.store.prune_lease().holder
            return report
        finished = False
        try:
            finished = self._run(cutoff, report)
        finally:
            self.store.release_prune_lease(self.holder, finished)
        log.info("prune: %s", report.to_dict())
        return report

    def _run(self, cutoff: float, report: PruneReport) -> bool:
        """Every phase in order; False if asked to stop before the end."""
        phases = (self._blobs, self._uploads, self._blobs, self._generations, self._events)
        for phase in phases:
            if not phase(cutoff, report):
                report.stopped = True
                return False
        return True

    def _go_on(self) -> bool:
        """Before each batch: not asked to stop, and the lease is still ours (renewed)."""
        if self.stop.is_set():
            return False
        if not self.store.take_prune_lease(self.holder, self.lease_seconds):
            raise LeaseLost("prune: another node took the prune lease; stopping this run")
        return True

    # --- phases: each returns False when asked to stop -------------------------------------
    def _uploads(self, cutoff: float, report: PruneReport) -> bool:
        while self._go_on():
            old = self.store.old_uploads(cutoff, self.batch)
            if not old:
                return True
            report.add("uploads", self.store.delete_uploads([row[0] for row in old], cutoff))
        return False

    def _generations(self, cutoff: float, report: PruneReport) -> bool:
        for owner in self.store.prune_owners():
            done = False
            while not done:
                if not self._go_on():
                    return False
                old, done = self.store.old_generations(owner, cutoff, 0, self.batch)
                if not old:
                    break
                counts = self.store.delete_generations([gen.id for gen in old], cutoff)
                for kind, n in counts.items():
                    report.add(kind, n)
                if counts.get("generations", 0) < len(old):
                    break  # changed under us (cannot happen to ended rows): next run
                if not self._blobs(cutoff, report):
                    return False
        return True

    def _events(self, cutoff: float, report: PruneReport) -> bool:
        after = 0
        while self._go_on():
            rows = self.store.event_walk(after, self.batch)
            gone = [i for i, made, status in rows if made < cutoff and status not in LIVE]
            if gone:
                report.add("events", self.store.delete_events(gone, cutoff))
            if len(rows) < self.batch or any(made >= cutoff for _, made, _ in rows):
                return True  # ids follow time: the rest is newer
            after = rows[-1][0]
        return False

    def _blobs(self, cutoff: float, report: PruneReport) -> bool:
        """Delete the noted blobs nothing kept uses; drop each note once dealt with."""
        del cutoff
        while self._go_on():
            pending = self.store.pending_blobs(self.batch)
            if not pending:
                return True
            for key, kind in pending:
                deleted = self._delete_blob(key, kind)
                self.store.forget_blob(key, kind, deleted)
                if deleted:
                    report.add(kind, 1)
        return False

    def _delete_blob(self, key: str, kind: str) -> bool:
        """Delete the blob unless something kept uses it. A request may reuse an input
        (same bytes, same key) at this very moment: its bytes are read first and put
        back if a use appeared meanwhile. An output (``outputs/<generation id>``) is
        never taken up again, so it is deleted without reading it."""
        if self.store.blob_in_use(key):
            return False
        if kind == OUTPUTS:
            if not self.storage.exists(key):
                return False  # gone already (a run that died after deleting it): not counted
            self.storage.delete(key)
            return True
        try:
            data = self.storage.get(key)
            content_type = self.storage.content_type(key)
        except NotFound:
            return False  # gone already (a run that died after deleting it): not counted
        self.storage.delete(key)
        if self.store.blob_in_use(key):
            self.storage.put(key, data, content_type)
            return False
        return True


__all__ = ["BATCH", "KINDS", "LeaseLost", "PruneReport", "Pruner", "node_id"]
