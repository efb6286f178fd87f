"""A dry run: walk what a prune would delete and count it; write nothing, take no lease.

The same walks as a real run (prune.py) over the same store reads; blobs are
counted as a real run would delete them: an output of a generation that goes, and an
input blob whose every user (generation or upload) goes.
"""

from __future__ import annotations

from editserve.services.retention.report import LIVE, PruneReport
from editserve.store import PruneStore
from editserve.store.retention import INPUTS, OUTPUTS


def count_prunable(store: PruneStore, cutoff: float, batch: int, report: PruneReport) -> None:
    going: set[str] = set()  # ids of the generations and uploads that would go
    blobs: dict[str, str] = {key: kind for key, kind in store.pending_blobs(1_000_000)}
    after_upload: tuple[float, str] = (-1.0, "")
    while uploads := store.old_uploads(cutoff, batch, after_upload):
        for upload_id, key, _ in uploads:
            going.add(upload_id)
            blobs.setdefault(key, INPUTS)
        report.add("uploads", len(uploads))
        after_upload = (uploads[-1][2], uploads[-1][0])
    for owner in store.prune_owners():
        after, done = 0, False
        while not done:
            old, done = store.old_generations(owner, cutoff, after, batch)
            if not old:
                break
            for gen in old:
                going.add(gen.id)
                for key in gen.output_keys:
                    blobs.setdefault(key, OUTPUTS)
                for key in gen.input_keys:
                    blobs.setdefault(key, INPUTS)
            report.add("generations", len(old))
            deliveries = store.deliveries_of([gen.id for gen in old])
            report.add("webhook_deliveries", sum(len(rows) for rows in deliveries.values()))
            after = old[-1].owner_seq
    keys = sorted(blobs)
    for start in range(0, len(keys), batch):
        users = store.blob_users(keys[start : start + batch])
        for key, used_by in users.items():
            if used_by <= going:
                report.add(blobs[key], 1)
    after_event = 0
    while rows := store.event_walk(after_event, batch):
        report.add("events", sum(1 for _, made, s in rows if made < cutoff and s not in LIVE))
        if len(rows) < batch or any(made >= cutoff for _, made, _ in rows):
            break
        after_event = rows[-1][0]


__all__ = ["count_prunable"]
