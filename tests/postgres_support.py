"""A real PostgreSQL for the tests: fresh databases, cloned from a migrated template.

The server is EDITSERVE_TEST_POSTGRES_URL (default: the local one, trust auth). Tests that
need it skip when it cannot be reached, unless EDITSERVE_REQUIRE_POSTGRES=1 (CI sets it),
which turns the skip into a failure: a green CI run has really run them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
PREFIX = "editserve_test_"


def admin_url() -> str:
    return os.environ.get("EDITSERVE_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)


def database_url(name: str) -> str:
    """The admin URL pointed at another database of the same server."""
    parts = urlsplit(admin_url())
    return urlunsplit(parts._replace(path="/" + name))


def _why_unreachable() -> str | None:
    try:
        with psycopg.connect(admin_url(), connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {admin_url()} unreachable: {str(exc).strip()}"
    return None


def require_postgres() -> None:
    """Skip (or, with EDITSERVE_REQUIRE_POSTGRES=1, fail) when the server is not there."""
    reason = _why_unreachable()
    if reason is None:
        return
    if os.environ.get("EDITSERVE_REQUIRE_POSTGRES") == "1":
        pytest.fail(reason + " (EDITSERVE_REQUIRE_POSTGRES=1)", pytrace=False)
    pytest.skip(reason)


def new_name(kind: str = "db") -> str:
    return f"{PREFIX}{kind}_{uuid.uuid4().hex[:12]}"


def create_database(name: str, template: str | None = None) -> str:
    """CREATE DATABASE name [TEMPLATE template]; returns its URL."""
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(statement)
    return database_url(name)


def drop_database(name: str) -> None:
    # FORCE: a store a test forgot to close must not make the drop fail.
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(statement)


@contextmanager
def migrated_template() -> Iterator[str]:
    """A database with every migration applied, to clone per test; dropped at the end."""
    from editserve.store.postgres import migrate

    name = new_name("template")
    url = create_database(name)
    try:
        migrate(url)  # closes its connection: a template must have no sessions when cloned
        yield name
    finally:
        drop_database(name)


@contextmanager
def fresh_database(template: str | None = None) -> Iterator[str]:
    """A new database (a clone of template, or empty); yields its URL, drops it after."""
    name = new_name()
    url = create_database(name, template)
    try:
        yield url
    finally:
        drop_database(name)
