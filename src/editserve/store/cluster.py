"""The cluster record (migration 009): facts every node of one database shares.

One row per fact, written once by whoever comes first (``editserve migrate`` or the first
node to start) and read by every node at its start: the cluster's id, the URL-signing
secret, the first API key, and the settings every node must agree on
(``editserve.services.cluster`` decides which). Writes run in one transaction under the cluster
lock (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE), so nodes starting together
record one set of values, and exactly one of them makes the first key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from editserve.store.dialect import Dialect, Row, Tx
from editserve.store.rows import ApiKeyRow

# pg_advisory_xact_lock key of the cluster record ("edit" c1); see store/postgres/store.py.
CLUSTER_LOCK = 0x6564_6974_00C1
FIRST_KEY = "first_key"


@dataclass(frozen=True)
class ClusterFact:
    """One fact of the cluster record, with when and by which node it was recorded."""

    name: str
    value: str
    recorded_at: float
    recorded_by: str

    @classmethod
    def from_row(cls, row: Row) -> ClusterFact:
        return cls(
            name=str(row["name"]),
            value=str(row["value"]),
            recorded_at=float(row["recorded_at"]),
            recorded_by=str(row["recorded_by"]),
        )


def _facts_of(rows: list[Row]) -> dict[str, ClusterFact]:
    return {str(row["name"]): ClusterFact.from_row(row) for row in rows}


class ClusterRecord:
    dialect: Dialect

    def cluster_facts(self) -> dict[str, ClusterFact]:
        """Every fact of the cluster record, by name."""
        return _facts_of(self.dialect.all("cluster_facts"))

    def record_cluster_facts(self, facts: Mapping[str, str], by: str) -> dict[str, ClusterFact]:
        """Record the facts not recorded yet (the ones there stay) and return every fact.

        One transaction under the cluster lock: of nodes starting together, the first
        records all its values and the others read them back, never a mix of both.
        """
        with self.dialect.tx() as tx:
            _lock(tx)
            for name, value in facts.items():
                tx.rowcount("insert_cluster_fact", name=name, value=str(value), by=by)
            return _facts_of(tx.all("cluster_facts"))

    def replace_cluster_facts(self, facts: Mapping[str, str], by: str) -> dict[str, ClusterFact]:
        """Record these values over the ones there (an operator's decision); return all."""
        with self.dialect.tx() as tx:
            _lock(tx)
            for name, value in facts.items():
                tx.rowcount("set_cluster_fact", name=name, value=str(value), by=by)
            return _facts_of(tx.all("cluster_facts"))

    def create_first_key(self, key: ApiKeyRow, by: str) -> bool:
        """Insert ``key`` if the cluster has no active key, and record it as the first key
        made by ``by``; False (nothing written) if there is an active key. Of nodes
        starting together exactly one gets True."""
        with self.dialect.tx() as tx:
            _lock(tx)
            row = tx.one("count_active_keys")
            if row is not None and int(row["n"]) > 0:
                return False
            tx.rowcount("insert_key", **key.insert_params())
            tx.rowcount("set_cluster_fact", name=FIRST_KEY, value=key.id, by=by)
        return True


def _lock(tx: Tx) -> None:
    tx.one("lock_cluster", lock=CLUSTER_LOCK)


__all__ = ["CLUSTER_LOCK", "FIRST_KEY", "ClusterFact", "ClusterRecord"]
