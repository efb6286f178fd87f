"""A claim on PostgreSQL reads the head of each served model's queue, not the queue: its
work stays the same whether 10 or 400 jobs wait (a claim that sorted every queued row of
its models made each claim slower exactly when a backlog built up)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fixtures.postgres import fresh_database, require_postgres
from fixtures.store import make_gen
from psycopg.rows import dict_row

from editserve.domain.record import Generation, Status
from editserve.store.dialect import load_queries
from editserve.store.postgres.store import EVENTS_LOCK, PostgresStore

MODELS = ["model-a", "model-b"]
# Rows this transaction read from the generations table's indexes and by sequential scans.
TUPLES_READ = """
SELECT pg_stat_get_xact_tuples_returned('generations'::regclass)
       + COALESCE(sum(pg_stat_get_xact_tuples_returned(indexrelid)), 0) AS n
FROM pg_index WHERE indrelid = 'generations'::regclass
"""


@pytest.fixture
def url() -> Iterator[str]:
    require_postgres()
    with fresh_database() as name:
        yield name


def _claim_params(store: PostgresStore) -> tuple[dict[str, Any], str]:
    """The parameters the store passes to claim_started (seen by running one claim), and
    the id that claim took."""
    seen: dict[str, Any] = {}
    run = store.dialect.all

    def spy(name: str, /, **params: Any) -> Any:
        if name == "claim_started":
            seen.update(params)
        return run(name, **params)

    store.dialect.all = spy  # type: ignore[method-assign]
    try:
        claimed = store.claim("w0", MODELS, 30, 3)
    finally:
        store.dialect.all = run  # type: ignore[method-assign]
    assert claimed is not None
    return {**seen, "events_lock": EVENTS_LOCK}, claimed.id


def _index_tuples_of_one_claim(url: str, params: dict[str, Any], plans: str) -> tuple[int, str]:
    """Rows one claim reads, and the id it took (rolled back), planned as ``plans`` says
    (a worker's store keeps one plan per statement: force_generic_plan)."""
    with (
        psycopg.connect(url, row_factory=dict_row) as conn,
        conn.transaction(force_rollback=True),
    ):
        conn.execute(f"SET LOCAL plan_cache_mode = {plans}")
        claim = load_queries("postgres")["claim_started"]
        row = conn.execute(claim, params, prepare=True).fetchone()
        assert row is not None
        read = conn.execute(TUPLES_READ).fetchone()
        assert read is not None
        return int(read["n"]), str(row["id"])


def _enqueue(store: PostgresStore, count: int) -> list[Generation]:
    gens = [make_gen(model=MODELS[index % 2], priority=index % 3) for index in range(count)]
    store.insert_generations(gens)
    return gens


@pytest.mark.parametrize("loaded", [None, "model-b"])
@pytest.mark.parametrize("plans", ["auto", "force_generic_plan"])
def test_a_claims_work_does_not_grow_with_the_queue(
    url: str, plans: str, loaded: str | None
) -> None:
    store = PostgresStore(url)
    try:
        # a history, a short queue, and the statistics of that moment (autovacuum's)
        store.insert_generations([make_gen(status=Status.SUCCEEDED) for _ in range(2000)])
        queued = _enqueue(store, 11)
        params, taken = _claim_params(store)
        params["loaded"] = loaded  # a worker holding that model prefers its jobs
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE generations")
        shallow, _ = _index_tuples_of_one_claim(url, params, plans)
        queued += _enqueue(store, 400)  # a burst, before the statistics catch up
        deep, claimed = _index_tuples_of_one_claim(url, params, plans)
        assert deep <= shallow + 2, (shallow, deep)
        assert deep < 20
        # and it still claims the right one: the highest priority, then the oldest
        waiting = [gen for gen in queued if gen.id != taken]
        top = [gen for gen in waiting if gen.priority == max(g.priority for g in waiting)]
        preferred = [gen for gen in top if gen.model == loaded] or top
        assert claimed == preferred[0].id
    finally:
        store.close()


def test_a_workers_store_keeps_one_plan_per_statement(url: str) -> None:
    worker, api = PostgresStore(url, plans_kept=True), PostgresStore(url)
    try:
        for store, expected in ((worker, "force_generic_plan"), (api, "auto")):
            with store.dialect._pool.connection() as conn:  # type: ignore[attr-defined]
                row = conn.execute("SHOW plan_cache_mode").fetchone()
            assert row is not None and next(iter(row.values())) == expected
    finally:
        worker.close()
        api.close()
