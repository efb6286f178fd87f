"""`editserve migrate`: bring a database up to date and record the cluster record.

Applies the pending migrations (PostgreSQL: under an advisory lock, so several nodes may
run it at once), records the cluster's id and this machine's values of the agreed
settings where none are recorded (``--accept-settings``: over the recorded ones), and
makes the cluster's first API key if it has no active key. Running it again changes
nothing ("up to date").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from editserve.core.settings import Settings
from editserve.services.cluster.agreed import PREFIX, Mismatch, agreed_facts, compare, env_name
from editserve.services.cluster.node import (
    CLUSTER_ID,
    NodeRefused,
    database_problem,
    is_database_error,
    new_cluster_id,
    node_name,
    open_store_checked,
    redact,
)
from editserve.services.keys import FIRST_KEY_FILE, NewKey, ensure_first_key
from editserve.store.cluster import FIRST_KEY, ClusterFact
from editserve.store.dialect import migrations


@dataclass
class MigrateReport:
    """What one `editserve migrate` did."""

    database: str  # the URL, without its password
    applied: list[int]
    schema_version: int
    cluster: ClusterFact
    cluster_created: bool
    recorded: dict[str, str] = field(default_factory=dict)  # EDITSERVE_X → value, recorded now
    differ: list[Mismatch] = field(default_factory=list)  # left at the cluster's value
    accepted: list[Mismatch] = field(default_factory=list)  # changed to this node's value
    first_key: NewKey | None = None  # made now (its secret is shown once)
    first_key_fact: ClusterFact | None = None
    key_file: Path | None = None

    @property
    def up_to_date(self) -> bool:
        changed = self.applied or self.cluster_created or self.recorded or self.accepted
        return not changed and self.first_key is None

    def as_dict(self) -> dict[str, Any]:
        fact = self.first_key_fact
        return {
            "database": self.database,
            "up_to_date": self.up_to_date,
            "migrations_applied": self.applied,
            "schema_version": self.schema_version,
            "cluster_id": self.cluster.value,
            "cluster_created": self.cluster_created,
            "cluster_created_at": self.cluster.recorded_at,
            "settings_recorded": self.recorded,
            "settings_differ": [mismatch.as_dict() for mismatch in self.differ],
            "settings_accepted": [mismatch.as_dict() for mismatch in self.accepted],
            "first_key": {
                "created": self.first_key is not None,
                "id": fact.value if fact else None,
                "made_by": fact.recorded_by if fact else None,
                "secret": self.first_key.secret if self.first_key else None,
                "webhook_secret": self.first_key.webhook_secret if self.first_key else None,
                "file": str(self.key_file) if self.first_key else None,
            },
        }


def _kind(url: str) -> str:
    return "postgres" if url.startswith(("postgresql://", "postgres://")) else "sqlite"


def apply_migrations(settings: Settings) -> list[int]:
    """Apply the pending migrations; return their versions (NodeRefused: unreachable)."""
    url = settings.resolved_database_url
    try:
        if _kind(url) == "postgres":
            from editserve.store.postgres import migrate

            return migrate(url)
        if url.startswith("sqlite:///"):
            from editserve.store.sqlite import SqliteDialect

            dialect = SqliteDialect(Path(url.removeprefix("sqlite:///")))
            try:
                return dialect.migrate()
            finally:
                dialect.close()
    except Exception as exc:
        if not is_database_error(exc):
            raise
        raise NodeRefused(database_problem(url, exc)) from None
    return []  # an unsupported URL: opening the store says so


def run_migrate(settings: Settings, *, accept_settings: bool = False) -> MigrateReport:
    """Migrate, record the cluster record and make the first key (see the module doc)."""
    url = settings.resolved_database_url
    applied = apply_migrations(settings)
    store = open_store_checked(settings)
    try:
        name = node_name(settings)
        before = store.cluster_facts()
        ours = agreed_facts(settings)
        candidate = new_cluster_id()
        facts = store.record_cluster_facts({CLUSTER_ID: candidate, **ours}, name)
        differ = compare(ours, facts)
        accepted: list[Mismatch] = []
        if differ and accept_settings:
            store.replace_cluster_facts({PREFIX + m.setting: m.ours for m in differ}, name)
            accepted, differ = differ, []
        first = ensure_first_key(store, settings.data_dir, name)
        facts = store.cluster_facts()
    finally:
        store.close()
    recorded = {
        env_name(key.removeprefix(PREFIX)): value
        for key, value in ours.items()
        if key not in before and facts[key].recorded_by == name
    }
    return MigrateReport(
        database=redact(url),
        applied=applied,
        schema_version=max(m.version for m in migrations(_kind(url))),
        cluster=facts[CLUSTER_ID],
        cluster_created=facts[CLUSTER_ID].value == candidate,
        recorded=recorded,
        differ=differ,
        accepted=accepted,
        first_key=first,
        first_key_fact=facts.get(FIRST_KEY),
        key_file=settings.data_dir / FIRST_KEY_FILE,
    )


__all__ = ["MigrateReport", "apply_migrations", "run_migrate"]
