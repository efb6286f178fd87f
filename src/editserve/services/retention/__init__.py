"""Retention: ``editserve prune`` and the API nodes' periodic prune (EDITSERVE_RETENTION_DAYS).

    retention/
      prune.py    Pruner: one run, in bounded batches, under the store's prune lease
      dry.py      what a dry run counts
      report.py   PruneReport, the kinds pruned and the live statuses
      auto.py     the periodic prune in an API node's lifespan
      metrics.py  editserve_pruned_total and the last prune's time for /metrics

The command is commands/prune.py; the store side (the lease, the batches, what still
uses a blob) is store/retention.py.
"""

from __future__ import annotations

from editserve.services.retention.prune import Pruner, PruneReport

__all__ = ["PruneReport", "Pruner"]
