"""The store contract of a shared fleet's keys, on SQLite and on PostgreSQL: an admin's
changes and their audit log (one transaction each), the last admin key kept, a key's own
max_running over the default, and migration 012 giving the cluster's first key admin."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import psycopg
import pytest
from fixtures.store import make_gen
from fixtures.store_targets import StoreTarget

from editserve.services.keys import create_key, hash_key
from editserve.store import KEY_FIELDS, LastAdmin, QueueFull, Store
from editserve.store.dialect import load_queries, migrations
from editserve.store.rows import SCOPES, ApiKeyRow
from editserve.store.sqlite import split_statements

pytestmark = pytest.mark.timeout(120)


def active(store: Store, key_id: str) -> bool:
    key = store.get_key(key_id)
    return key is not None and key.revoked_at is None


def test_changes_are_made_and_audited_newest_first(store: Store) -> None:
    admin = create_key(store, "ops", SCOPES).row.id
    made = create_key(store, "team", actor=admin).row
    assert made.scopes == ("submit", "read") and made.weight == 1.0
    changed = store.update_key(made.id, {"weight": 2.5, "max_running": 3}, actor=admin)
    assert changed is not None and (changed.weight, changed.max_running) == (2.5, 3)
    store.update_key(made.id, {"gpu_seconds_per_day": 60.0, "name": "team-b"}, actor="cli:ops")
    store.update_key(made.id, {"max_running": None, "scopes": ("read",)}, actor=admin)
    key = store.get_key(made.id)
    assert key is not None
    assert (key.name, key.weight, key.max_running) == ("team-b", 2.5, None)
    assert (key.gpu_seconds_per_day, key.scopes) == (60.0, ("read",))

    log = store.audit_log(made.id)
    assert [(e.action, e.actor) for e in log] == [
        ("update", admin),
        ("update", "cli:ops"),
        ("update", admin),
        ("create", admin),
    ]
    assert [e.detail for e in log[:3]] == [
        {"max_running": None, "scopes": ["read"]},
        {"gpu_seconds_per_day": 60.0, "name": "team-b"},
        {"weight": 2.5, "max_running": 3},
    ]
    created = log[3].detail  # what was made, never its hash or secrets
    assert set(created) == set(KEY_FIELDS) and created["scopes"] == ["submit", "read"]
    assert made.key_hash not in str(created) and "webhook_secret" not in created
    assert all(e.key_id == made.id for e in log)
    assert [e.seq for e in log] == sorted((e.seq for e in log), reverse=True)

    # paging: `before` an entry gives the older ones; limit cuts the page
    assert store.audit_log(made.id, limit=2) == log[:2]
    assert store.audit_log(made.id, before=log[1].seq) == log[2:]
    assert store.audit_log(made.id, before=log[-1].seq) == []
    everyone = store.audit_log()
    assert everyone[: len(log)] == log  # the other key has no entries yet (no actor)


def test_a_change_to_a_missing_or_revoked_key_is_none_and_not_audited(store: Store) -> None:
    create_key(store, "ops", SCOPES)
    gone = create_key(store, "gone").row.id
    assert store.revoke_key(gone, actor="cli:ops")
    assert store.update_key(gone, {"weight": 2.0}, actor="cli:ops") is None
    assert store.update_key("key_nobody", {"weight": 2.0}, actor="cli:ops") is None
    assert not store.revoke_key(gone, actor="cli:ops")  # already revoked
    assert [(e.action, e.detail) for e in store.audit_log(gone)] == [("revoke", {})]
    assert store.audit_log("key_nobody") == []


def test_the_last_admin_key_is_neither_revoked_nor_demoted(store: Store) -> None:
    first = create_key(store, "first", SCOPES).row.id
    other = create_key(store, "other").row.id
    with pytest.raises(LastAdmin):
        store.revoke_key(first, actor=other)
    with pytest.raises(LastAdmin):
        store.update_key(first, {"scopes": ("read", "submit")}, actor=other)
    key = store.get_key(first)
    assert key is not None and key.revoked_at is None and "admin" in key.scopes
    assert store.audit_log(first) == []  # a refused change leaves no entry
    # a change that keeps admin is fine; a non-admin key goes any time
    assert store.update_key(first, {"scopes": ("admin",), "weight": 2.0}, actor=first)
    assert store.revoke_key(other, actor=first)

    second = create_key(store, "second").row.id
    store.update_key(second, {"scopes": ("admin", "read")}, actor=first)
    assert store.revoke_key(first, actor=second)  # another admin is left: allowed
    assert not active(store, first)
    with pytest.raises(LastAdmin):  # a revoked admin does not count
        store.revoke_key(second, actor=second)
    with pytest.raises(LastAdmin):
        store.update_key(second, {"scopes": ("submit",)}, actor=second)
    assert active(store, second)


def test_a_keys_own_max_running_wins_over_the_default(store: Store) -> None:
    own = create_key(store, "own").row.id
    default = create_key(store, "default").row.id
    generous = create_key(store, "generous").row.id
    store.update_key(own, {"max_running": 2}, actor="test")
    store.update_key(generous, {"max_running": 5}, actor="test")
    for _ in range(2):
        store.insert_generations([make_gen(own)], max_active=100)
    with pytest.raises(QueueFull) as refused:
        store.insert_generations([make_gen(own)], max_active=100)
    assert (refused.value.active, refused.value.limit, refused.value.own) == (2, 2, True)
    assert store.count_active(own) == 2  # nothing stored for the refused one

    store.insert_generations([make_gen(default)], max_active=1)
    with pytest.raises(QueueFull) as by_default:
        store.insert_generations([make_gen(default)], max_active=1)
    assert (by_default.value.limit, by_default.value.own) == (1, False)

    store.insert_generations([make_gen(generous) for _ in range(5)], max_active=1)  # above
    with pytest.raises(QueueFull):
        store.insert_generations([make_gen(generous)], max_active=1)
    store.update_key(own, {"max_running": None}, actor="test")  # cleared: the default again
    store.insert_generations([make_gen(own)], max_active=3)
    with pytest.raises(QueueFull) as cleared:
        store.insert_generations([make_gen(own)], max_active=3)
    assert (cleared.value.limit, cleared.value.own) == (3, False)


# --- migration 012 -----------------------------------------------------------------------------

V11 = 11


def _run_script(target: StoreTarget, statements: list[tuple[str, tuple[object, ...]]]) -> None:
    """Statements straight on target's database, in one transaction (%s placeholders)."""
    if target.kind == "postgres":
        with psycopg.connect(target.location) as pg:
            for sql, params in statements:
                pg.execute(sql.encode(), params or None)
        return
    conn = sqlite3.connect(target.location, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for sql, params in statements:
            if params:
                conn.execute(sql.replace("%s", "?"), params)
            else:
                for statement in split_statements(sql.rstrip().rstrip(";") + ";"):
                    conn.execute(statement)
        conn.execute("COMMIT")
    finally:
        conn.close()


def build_v11(target: StoreTarget) -> None:
    """What an install of v11 holds: migrations 1-11, each recorded."""
    older = [m for m in migrations(target.kind) if m.version <= V11]
    assert older[-1].version == V11
    record = "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, 0)"
    _run_script(
        target,
        [(load_queries(target.kind)["create_schema_migrations"], ())]
        + [(m.script, ()) for m in older]
        + [(record, (m.version,)) for m in older],
    )


def test_a_v11_database_gives_its_first_key_admin_at_v12(
    fresh_target: Callable[[bool], StoreTarget],
) -> None:
    target = fresh_target(False)
    build_v11(target)
    insert = (
        "INSERT INTO api_keys (id, name, prefix, key_hash, created_at, webhook_secret) "
        "VALUES (%s, %s, %s, %s, 1700000000, NULL)"
    )
    _run_script(
        target,
        [
            (insert, ("key_first", "default", "es_first", hash_key("es_first-secret"))),
            (insert, ("key_other", "team", "es_other", hash_key("es_other-secret"))),
            (
                "INSERT INTO cluster (name, value, recorded_at, recorded_by) "
                "VALUES (%s, %s, 1700000000, %s)",
                ("first_key", "key_first", "node-a"),
            ),
        ],
    )
    store = target.open()  # migrates to v12
    first, other = store.get_key("key_first"), store.get_key("key_other")
    assert first is not None and other is not None
    assert set(first.scopes) == {"admin", "read", "submit"}
    assert set(other.scopes) == {"read", "submit"}
    for key in (first, other):
        assert (key.weight, key.max_running, key.gpu_seconds_per_day) == (1.0, None, None)
    found = store.key_by_hash(hash_key("es_first-secret"))
    assert isinstance(found, ApiKeyRow) and found.id == "key_first"
    with pytest.raises(LastAdmin):  # the one admin is kept from the start
        store.revoke_key("key_first")
