"""The store's roles for what nodes and the commands administer: API keys, the cluster
record and retention (see the package doc)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from editserve.store.cluster import ClusterFact
from editserve.store.retention import OldGeneration, PruneLease
from editserve.store.rows import ApiKeyRow, AuditEntry, UsageRow


class KeyStore(Protocol):
    """API keys: authentication, `editserve keys`, the first key, a key's default webhook.

    Used by services/keys.py (KeyRing, create_key, ensure_first_key, set_default_webhook).
    """

    def insert_key(self, key: ApiKeyRow, *, actor: str | None = None) -> None:
        """Insert a key; with an actor, record its creation in the audit log."""
        ...

    def key_by_hash(self, key_hash: str) -> ApiKeyRow | None:
        """The active (not revoked) key with this hash."""
        ...

    def get_key(self, key_id: str) -> ApiKeyRow | None:
        """The key with this id, revoked or not."""
        ...

    def list_keys(self) -> list[ApiKeyRow]: ...

    def revoke_key(self, key_id: str, *, actor: str | None = None) -> bool:
        """False if there is no such active key; store.LastAdmin (nothing changed) if it is
        the last active key with the admin scope. With an actor, audited."""
        ...

    def update_key(
        self, key_id: str, changes: Mapping[str, Any], *, actor: str
    ) -> ApiKeyRow | None:
        """Change an active key's fields (store.KEY_FIELDS) and audit it, in one
        transaction; None if no such active key; LastAdmin as revoke_key."""
        ...

    def audit_log(
        self, key_id: str | None = None, *, limit: int = 100, before: int | None = None
    ) -> list[AuditEntry]:
        """Key changes, newest first (of one key, or all), before the entry ``before``."""
        ...

    def count_active_keys(self) -> int: ...

    def create_first_key(self, key: ApiKeyRow, by: str) -> bool:
        """Insert key if no key is active and record it as the cluster's first key, made by
        the node ``by``; False (nothing written) otherwise. Race-safe across nodes."""
        ...

    def key_webhook_url(self, owner: str) -> str | None: ...

    def set_key_webhook(self, key_id: str, url: str | None) -> bool: ...

    def rotate_webhook_secret(self, key_id: str, secret: str) -> bool: ...

    def blob_owners_revoked(self, key: str) -> bool:
        """Whether the blob's owners are known and all revoked: its signed links die with
        them (an output's generation's key; every key that uploaded or edited with an
        input)."""
        ...


class UsageStore(Protocol):
    """What the workers' finishes recorded (usage_hours): GET /api/ai/usage, the GPU-seconds
    quota, /metrics. Used by services/usage.py and services/metrics.py."""

    def usage_hours(self, owner: str | None, from_hour: int, to_hour: int) -> list[UsageRow]:
        """Usage of owner (None: every key) by key, model and hour in [from_hour, to_hour)
        (unix seconds, multiples of 3600)."""
        ...

    def usage_totals(self) -> list[UsageRow]:
        """Every key's usage so far by model (hour 0)."""
        ...


class ClusterStore(Protocol):
    """The cluster record (store/cluster.py): facts every node shares.

    Used by services/cluster (the start-up agreement, the signing secret).
    """

    def cluster_facts(self) -> dict[str, ClusterFact]:
        """Every fact of the cluster record, by name."""
        ...

    def record_cluster_facts(self, facts: Mapping[str, str], by: str) -> dict[str, ClusterFact]:
        """Record the facts not recorded yet (insert-if-absent, one transaction under the
        cluster lock: nodes starting together record one node's values); return them all."""
        ...

    def replace_cluster_facts(self, facts: Mapping[str, str], by: str) -> dict[str, ClusterFact]:
        """Record these values over the ones there; return every fact."""
        ...


class RetentionStore(Protocol):
    """Retention (`editserve prune`; store/retention.py): the prune lease, old rows and
    their blobs, and what prunes deleted.

    Used by services/retention (the pruner with RecordStore: PruneStore; its metrics).
    """

    def take_prune_lease(self, holder: str, ttl_seconds: float) -> bool:
        """Take the one prune lease for ttl_seconds (or renew it, if holder has it)."""
        ...

    def release_prune_lease(self, holder: str, finished: bool) -> None: ...

    def prune_lease(self) -> PruneLease: ...

    def prune_owners(self) -> list[str]: ...

    def old_generations(
        self, owner: str, cutoff: float, after: int, limit: int
    ) -> tuple[list[OldGeneration], bool]:
        """Owner's oldest generations (numbered after ``after``) ended before cutoff: only a
        run from the first; (them, True when the key has no more to look at)."""
        ...

    def delete_generations(self, ids: Sequence[str], cutoff: float) -> dict[str, int]:
        """Delete these ended generations with their webhook deliveries, noting their
        blobs, in one transaction; never a live one. Counts by kind."""
        ...

    def old_uploads(
        self, cutoff: float, limit: int, after: tuple[float, str] = (-1.0, "")
    ) -> list[tuple[str, str, float]]: ...

    def delete_uploads(self, ids: Sequence[str], cutoff: float) -> int: ...

    def event_walk(self, after: int, limit: int) -> list[tuple[int, float, str | None]]: ...

    def delete_events(self, ids: Sequence[int], cutoff: float) -> int: ...

    def pending_blobs(self, limit: int) -> list[tuple[str, str]]: ...

    def blob_in_use(self, key: str) -> bool: ...

    def forget_blob(self, key: str, kind: str, deleted: bool) -> None: ...

    def blob_users(self, keys: Sequence[str]) -> dict[str, set[str]]: ...

    def pruned_totals(self) -> dict[str, int]: ...


__all__ = ["KeyStore", "ClusterStore", "RetentionStore"]
