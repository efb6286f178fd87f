"""The store contract, on SQLite and on PostgreSQL: migrations, the fresh-install schema
(generated from the migrations by scripts/schema_snapshot.py), and the two query files."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import psycopg
import pytest
from fixtures.postgres import admin_url, fresh_database, require_postgres
from fixtures.schema_dump import full_schema, migration_versions, schema_of, snapshot_script
from fixtures.store import MODELS, make_gen
from fixtures.store_targets import StoreTarget

from editserve.domain.record import Status
from editserve.store import dialect as dialect_module
from editserve.store.dialect import (
    FIXED_STATUSES,
    SNAPSHOT_VERSIONS,
    fresh_schema,
    load_queries,
    migrations,
    snapshot_versions,
)
from editserve.store.postgres import migrate
from editserve.store.sqlite import SqliteDialect, split_statements

DIALECTS = ("sqlite", "postgres")


def versions(kind: str) -> list[int]:
    return [migration.version for migration in migrations(kind)]


def build(target: StoreTarget, *, from_schema: bool) -> list[int]:
    """Migrate target's empty database: from the fresh-install schema, or step by step."""
    if target.kind == "postgres":
        return migrate(target.location, from_schema=from_schema)
    dialect = SqliteDialect(Path(target.location))
    try:
        return dialect.migrate(from_schema=from_schema)
    finally:
        dialect.close()


def build_v1(target: StoreTarget) -> None:
    """What an install of the first release holds: migration 001 only."""
    first = migrations(target.kind)[0]
    assert first.version == 1
    if target.kind == "postgres":
        with psycopg.connect(target.location) as pg:
            pg.execute(load_queries("postgres")["create_schema_migrations"])
            pg.execute(first.script.encode())
            pg.execute("INSERT INTO schema_migrations VALUES (1, 0)")
        return
    conn = sqlite3.connect(target.location, isolation_level=None)
    try:
        conn.execute(load_queries("sqlite")["create_schema_migrations"])
        for statement in split_statements(first.script):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (1, 0)")
    finally:
        conn.close()


def test_migrations_applied_twice_are_a_no_op(target: StoreTarget) -> None:
    first = target.open()
    first.insert_generations([make_gen()])
    before = schema_of(target)
    again = target.open()
    assert schema_of(target) == before
    assert migration_versions(target) == versions(target.kind)
    assert again.count_active("key_a") == 1  # nothing was recreated
    if target.kind == "postgres":
        assert migrate(target.location) == []


def test_concurrent_opens_of_an_empty_database_all_succeed(
    fresh_target: Callable[[bool], StoreTarget],
) -> None:
    target = fresh_target(False)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_one() -> None:
        barrier.wait()
        try:
            target.open().count_active_keys()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert migration_versions(target) == versions(target.kind)


def test_both_stores_build_the_same_tables(tmp_path: Path, pg_template: str) -> None:
    lite = StoreTarget("sqlite", str(tmp_path / "db.sqlite"))
    lite.open()
    try:
        with fresh_database(pg_template) as url:
            pg_schema = schema_of(StoreTarget("postgres", url))
    finally:
        lite.close_all()
    assert schema_of(lite)["tables"] == pg_schema["tables"]


def test_migrations_in_order_build_the_fresh_install_schema(
    fresh_target: Callable[[bool], StoreTarget],
) -> None:
    stepwise, fresh = fresh_target(False), fresh_target(False)
    assert len(versions(stepwise.kind)) >= 2
    assert fresh_schema(fresh.kind) is not None  # current: the fresh install runs it
    assert build(stepwise, from_schema=False) == versions(stepwise.kind)
    assert build(fresh, from_schema=True) == versions(fresh.kind)
    built = full_schema(stepwise)
    assert "generations_queue" in built["indexes"]  # from migration 002
    assert built == full_schema(fresh)
    assert migration_versions(stepwise) == migration_versions(fresh)


def test_the_fresh_install_schema_is_what_the_migrations_generate(kind: str) -> None:
    """store/<dialect>/schema.sql is scripts/schema_snapshot.py's output for the migrations
    there are now (CI also runs `scripts/schema_snapshot.py --check`)."""
    if kind == "postgres":
        require_postgres()
    script = snapshot_script()
    committed = script.snapshot_path(kind).read_text()
    assert snapshot_versions(committed) == versions(kind)
    assert committed == script.render(kind, admin_url()), (
        f"store/{kind}/schema.sql is stale: run `python scripts/schema_snapshot.py {kind}`"
    )


def test_a_stale_snapshot_is_not_run_on_a_fresh_install(
    fresh_target: Callable[[bool], StoreTarget], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A migration added without regenerating schema.sql: an empty database gets the
    migrations one by one instead, so it still has every migration's schema."""
    stale, stepwise = fresh_target(False), fresh_target(False)
    read = dialect_module._read
    newest = versions(stale.kind)[-1]

    def without_newest(dialect: str, name: str) -> str:
        text = read(dialect, name)
        if name != "schema.sql":
            return text
        return "\n".join(
            line.removesuffix(f" {newest}") if line.startswith(SNAPSHOT_VERSIONS) else line
            for line in text.splitlines()
        )

    monkeypatch.setattr(dialect_module, "_read", without_newest)
    assert fresh_schema(stale.kind) is None
    assert build(stale, from_schema=True) == versions(stale.kind)
    build(stepwise, from_schema=False)
    assert full_schema(stale) == full_schema(stepwise)


def test_an_existing_v1_database_is_upgraded_in_place(
    fresh_target: Callable[[bool], StoreTarget],
) -> None:
    old, fresh = fresh_target(False), fresh_target(False)
    build_v1(old)
    build(fresh, from_schema=True)
    store = old.open()
    assert migration_versions(old) == versions(old.kind)
    assert full_schema(old) == full_schema(fresh)
    gen = make_gen()
    store.insert_generations([gen])
    claimed = store.claim("w1", MODELS, 30, 3)
    assert claimed is not None and claimed.id == gen.id


# The hot path is one statement on PostgreSQL (it writes its events itself) and a short
# BEGIN IMMEDIATE transaction of these statements on SQLite (store/core.py picks).
POSTGRES_ONLY = {
    "claim_started",
    "finish_ended",
    "finish_claim",
    "notify_events",
    "notify_work",
}
SQLITE_ONLY = {"claim_next", "claim_siblings", "finish"}


def test_query_files_define_the_same_statements_with_the_same_parameters() -> None:
    lite, pg = load_queries("sqlite"), load_queries("postgres")
    assert set(lite) - set(pg) == SQLITE_ONLY
    assert set(pg) - set(lite) == POSTGRES_ONLY
    for name in set(lite) - SQLITE_ONLY:
        lite_params = set(re.findall(r":(\w+)", lite[name])) - {"now"}  # :now is SQLite's clock
        pg_params = set(re.findall(r"%\((\w+)\)s", pg[name]))
        assert lite_params == pg_params, name


def test_query_files_spell_no_status() -> None:
    """The state machine is store/core.py: statuses reach SQL only as parameters, and the
    fixed ones (queued, held) are written in as literals when the file is read."""
    for dialect in DIALECTS:
        text = resources.files("editserve.store").joinpath(f"{dialect}/queries.sql").read_text()
        code = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
        for status in Status:
            assert f"'{status.value}'" not in code, (dialect, status)
        claim = load_queries(dialect)["any_queued"]
        assert f"status = '{FIXED_STATUSES['queued']}'" in claim, (dialect, claim)
        for name, sql in load_queries(dialect).items():
            for fixed in FIXED_STATUSES:
                assert f"%({fixed})s" not in sql and not re.search(rf":{fixed}\b", sql), name


def test_sqlite_users_never_import_psycopg() -> None:
    code = (
        "import sys\n"
        "import editserve.store, editserve.store.sqlite\n"
        "assert not editserve.store.is_store_unavailable(ValueError())\n"
        "loaded = sorted(name for name in sys.modules if name.startswith('psycopg'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
