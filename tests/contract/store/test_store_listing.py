"""The store contract, on SQLite and on PostgreSQL: lists and counts that stay flat in the
history (migration 004) give exactly what a plain COUNT and OFFSET would, whoever
inserted the rows; every key's events for the event hub."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
import pytest
from fixtures.store import MODELS, make_gen
from fixtures.store_targets import StoreTarget

from editserve.domain.record import Status
from editserve.store import Store


def plain(target: StoreTarget, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """A statement run outside the store (what a naive reader, or another tool, does)."""
    if target.kind == "sqlite":
        conn = sqlite3.connect(target.location, isolation_level=None)
        try:
            return list(conn.execute(query.replace("%s", "?"), params))
        finally:
            conn.close()
    with psycopg.connect(target.location, autocommit=True) as pg:
        cursor = pg.execute(query, params)  # type: ignore[arg-type]
        return list(cursor) if cursor.description else []


def history(target: StoreTarget, owner: str, status: str | None = None) -> list[str]:
    """The key's generation ids, newest first, by plain SQL."""
    where = " AND status = %s" if status else ""
    query = f"SELECT id FROM generations WHERE owner = %s{where} ORDER BY seq DESC"
    return [row[0] for row in plain(target, query, owner, *([status] if status else []))]


def every_state(store: Store) -> None:
    """Generations of key_a in every status (and one of key_b)."""
    gens = [make_gen() for _ in range(9)]
    for item in gens:
        store.insert_generations([item])
    store.insert_generations([make_gen("key_b")])
    for _ in range(6):
        store.claim("w1", MODELS, 30, 3)
    store.finish(gens[0], "w1", Status.SUCCEEDED, result_key="outputs/a.png")
    store.finish(gens[1], "w1", Status.SUCCEEDED, result_key="outputs/b.png")
    store.finish(gens[2], "w1", Status.FAILED, error_message="boom")
    store.request_cancel(gens[8].id, "key_a")  # queued -> cancelled


def test_counts_follow_every_transition(target: StoreTarget) -> None:
    store = target.open()
    every_state(store)
    counted = dict(plain(target, "SELECT status, COUNT(*) FROM generations "
                                 "WHERE owner = %s GROUP BY status", "key_a"))  # fmt: skip
    for status in Status:
        assert store.count_generations("key_a", [status]) == counted.get(status.value, 0), status
    assert store.count_generations("key_a") == 9 == sum(counted.values())
    assert store.count_active("key_a") == counted["queued"] + counted["processing"]
    assert store.count_generations("key_a", model="other") == 0
    assert store.status_counts() == {
        (m, s): n
        for m, s, n in plain(
            target, "SELECT model, status, COUNT(*) FROM generations GROUP BY model, status"
        )  # fmt: skip
    }


@pytest.mark.parametrize("page_size", [1, 2, 4, 50])
def test_pages_are_what_offset_paging_gives(target: StoreTarget, page_size: int) -> None:
    store = target.open()
    every_state(store)
    for status in (None, "succeeded", "processing"):
        expected = history(target, "key_a", status)
        statuses = [Status(status)] if status else None
        pages, offset = [], 0
        while offset < len(expected) + page_size:
            page, total = store.list_generations(
                "key_a", statuses=statuses, limit=page_size, offset=offset
            )
            assert total == len(expected)
            pages += [item.id for item in page]
            offset += page_size
        assert pages == expected, status
        oldest, _ = store.list_generations("key_a", statuses=statuses, newest_first=False)
        assert [item.id for item in oldest] == expected[::-1]
    both = [Status.QUEUED, Status.SUCCEEDED]
    page, total = store.list_generations("key_a", statuses=both, limit=2, offset=1)
    merged = [i for i in history(target, "key_a") if i in set(
        history(target, "key_a", "queued") + history(target, "key_a", "succeeded"))]  # fmt: skip
    assert total == len(merged) and [item.id for item in page] == merged[1:3]


def test_rows_inserted_by_other_tools_are_numbered_and_counted(target: StoreTarget) -> None:
    store = target.open()
    store.insert_generations([make_gen()])
    # a row written as plain SQL, as a migration script or an import would
    plain(
        target,
        "INSERT INTO generations (id, owner, model, status, params, inputs, batch_id, "
        "batch_index, seed, width, height, area, enqueued_at) "
        "VALUES (%s, %s, %s, %s, '{}', '[]', 'b', 0, 1, 64, 64, 4096, 0)",
        "plain-1", "key_a", MODELS[0], "succeeded",
    )  # fmt: skip
    page, total = store.list_generations("key_a", limit=10)
    assert total == 2 and [item.id for item in page][0] == "plain-1"
    assert store.count_generations("key_a", [Status.SUCCEEDED]) == 1
    numbers = plain(target, "SELECT owner_seq FROM generations WHERE owner = %s "
                            "ORDER BY seq", "key_a")  # fmt: skip
    assert [row[0] for row in numbers] == [1, 2]


def test_every_keys_events_for_the_hub(store: Store) -> None:
    store.insert_generations([make_gen(), make_gen("key_b")])
    store.claim("w1", MODELS, 30, 3)
    store.claim("w1", MODELS, 30, 3)
    events = store.events_after_any(0)
    assert [e.owner for e in events] == ["key_a", "key_b"]
    assert store.last_event_id() == events[-1].id
    assert store.last_event_id("key_a") == events[0].id
    assert store.events_after_any(events[0].id) == events[1:]
    assert store.events_after_any(0, limit=1) == events[:1]
