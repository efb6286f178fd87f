"""Retention: ``editserve prune`` and the API nodes' periodic prune (EDITSERVE_RETENTION_DAYS).

    retention/
      prune.py    Pruner: one run, in bounded batches, under the store's prune lease
      dry.py      what a dry run counts
      auto.py     the periodic prune in an API node's lifespan
      cli.py      the `editserve prune` command
      metrics.py  editserve_pruned_total and the last prune's time for /metrics

The store side (the lease, the batches, what still uses a blob) is store/retention.py.
"""

from __future__ import annotations

from editserve.retention.prune import Pruner, PruneReport

__all__ = ["PruneReport", "Pruner"]
