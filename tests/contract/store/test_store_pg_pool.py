"""PostgreSQL connections are checked before use only when they have not answered a
statement in the last moment: no extra round trip on the hot path, and a connection the
server dropped while it sat idle is still replaced before a statement fails on it."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fixtures.postgres import fresh_database, require_postgres

from editserve.store.postgres import PostgresStore
from editserve.store.postgres import store as postgres


@pytest.fixture
def url() -> Iterator[str]:
    require_postgres()
    with fresh_database() as name:
        yield name


def test_a_connection_that_just_answered_is_not_checked_again(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[object] = []
    monkeypatch.setattr(postgres.ConnectionPool, "check_connection", checks.append)
    store = PostgresStore(url, max_connections=1)
    try:
        for _ in range(20):
            store.last_event_id()
        assert len(checks) <= 1  # at most the first hand-out of the new connection
        monkeypatch.setattr(postgres, "TRUST_SECONDS", 0.0)
        for _ in range(5):
            store.last_event_id()
        assert len(checks) >= 5  # older than the trust window: checked every time
    finally:
        store.close()


def test_a_connection_dropped_while_idle_is_replaced_before_use(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PostgresStore(url, max_connections=1)
    try:
        store.last_event_id()
        with psycopg.connect(url, autocommit=True) as admin:  # the server ends its session
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name <> 'editserve-listen'"
            )
        monkeypatch.setattr(postgres, "TRUST_SECONDS", 0.0)  # it has sat idle past the window
        assert store.last_event_id() == 0  # checked, found dead, replaced: no error
    finally:
        store.close()
