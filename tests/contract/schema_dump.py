"""What a database's schema is, read back from the database itself (for the schema tests)."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
from store_targets import StoreTarget


def schema_of(target: StoreTarget) -> dict[str, Any]:
    """Tables → column names (and, per store, index names): what the migrations built."""
    tables: dict[str, Any] = {}
    if target.kind == "sqlite":
        conn = sqlite3.connect(target.location)
        try:
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            ]
            for name in names:
                tables[name] = sorted(row[1] for row in conn.execute(f"PRAGMA table_info({name})"))
            indexes = sorted(
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'index' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            )
        finally:
            conn.close()
    else:
        with psycopg.connect(target.location) as pg:
            for table, column in pg.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            ):
                tables.setdefault(table, []).append(column)
            tables = {table: sorted(columns) for table, columns in tables.items()}
            indexes = sorted(
                row[0]
                for row in pg.execute(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
                )
            )
    return {"tables": tables, "indexes": indexes}


def migration_versions(target: StoreTarget) -> list[int]:
    if target.kind == "sqlite":
        conn = sqlite3.connect(target.location)
        try:
            return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
        finally:
            conn.close()
    with psycopg.connect(target.location) as pg:
        return [r[0] for r in pg.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def _squash(sql: str | None) -> str | None:
    return " ".join(sql.split()) if sql else sql


def full_schema(target: StoreTarget) -> dict[str, Any]:
    """Everything that makes the schema: tables, columns (type, nullability, default),
    indexes (columns, order, uniqueness, partial WHERE), triggers, constraints."""
    if target.kind == "sqlite":
        return _sqlite_schema(target.location)
    return _postgres_schema(target.location)


def _sqlite_schema(path: str) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    try:
        master = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall()
        tables = sorted(name for kind, name, _, _ in master if kind == "table")
        columns = {
            table: sorted(
                (name, kind, bool(notnull), default, pk)
                for _, name, kind, notnull, default, pk in conn.execute(
                    f"PRAGMA table_info({table})"
                )
            )
            for table in tables
        }
        sql_of = {name: sql for _, name, _, sql in master}
        indexes = {}
        for table in tables:
            for _, name, unique, origin, partial in conn.execute(f"PRAGMA index_list({table})"):
                keys = [
                    (column, bool(desc), collation)
                    for _, _, column, desc, collation, key in conn.execute(
                        f"PRAGMA index_xinfo({name})"
                    )
                    if key
                ]
                where = str(_squash(sql_of[name])).split(" WHERE ", 1)[1] if partial else None
                indexes[name] = (table, bool(unique), origin, keys, where)
        triggers = {
            name: (table, _squash(sql)) for kind, name, table, sql in master if kind == "trigger"
        }
    finally:
        conn.close()
    return {"columns": columns, "indexes": indexes, "triggers": triggers}


def _postgres_schema(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as pg:
        columns: dict[str, list[tuple[Any, ...]]] = {}
        for table, *column in pg.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default, "
            "is_identity, identity_generation FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY table_name, column_name"
        ):
            columns.setdefault(table, []).append(tuple(column))
        indexes = {
            name: (table, definition)
            for table, name, definition in pg.execute(
                "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            )
        }
        triggers = {
            name: (table, definition)
            for table, name, definition in pg.execute(
                "SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND NOT t.tgisinternal"
            )
        }
        constraints = {
            name: (table, definition)
            for table, name, definition in pg.execute(
                "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
                "JOIN pg_class c ON c.oid = k.conrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
            )
        }
        functions = {
            name: _squash(source)
            for name, source in pg.execute(
                "SELECT p.proname, p.prosrc FROM pg_proc p "
                "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
            )
        }
    return {
        "columns": columns,
        "indexes": indexes,
        "triggers": triggers,
        "constraints": constraints,
        "functions": functions,
    }
