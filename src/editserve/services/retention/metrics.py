"""What /metrics shows of retention, read from the store (every node shows the fleet's)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from editserve.services.retention.prune import KINDS
from editserve.store import RetentionStore


def retention_metrics(store: RetentionStore) -> Iterator[Metric]:
    pruned = CounterMetricFamily(
        "editserve_pruned",
        "Rows and blobs deleted by prunes (editserve prune, EDITSERVE_RETENTION_DAYS), by kind.",
        labels=["kind"],
    )
    totals = store.pruned_totals()
    for kind in sorted(set(KINDS) | set(totals)):
        pruned.add_metric([kind], totals.get(kind, 0))
    yield pruned
    last = store.prune_lease().last_finished_at
    if last is not None:
        yield GaugeMetricFamily(
            "editserve_last_prune_timestamp_seconds",
            "When the last complete prune finished (Unix time).",
            value=last,
        )


__all__ = ["retention_metrics"]
