"""The store contract, on SQLite and on PostgreSQL: batches (migration 014). A batch and its
items go in together; the batch row's counts move with its items (claims, finishes, a
requeue, a cancel) so a poll reads one row; the last item's end ends the batch and writes
one batch.completed event; a cancel takes only what has not started; batch items are not
under the per-key queue limit and come after interactive work."""

from __future__ import annotations

import json
import time

import pytest
from fixtures.store import MODELS, make_gen

from editserve.domain.record import Status
from editserve.store import QueueFull, Store
from editserve.store.batches import BatchRow


def new_batch(store: Store, items: int, owner: str = "key_a", priority: int = -10) -> BatchRow:
    batch = BatchRow(
        id=f"batch_{time.monotonic_ns()}", owner=owner, status="running", total=items,
        priority=priority, created_at=time.time(), metadata={"job": "catalogue"},
    )  # fmt: skip
    gens = [
        make_gen(owner, priority=priority, batch_ref=batch.id, batch_item=n, custom_id=f"sku-{n}")
        for n in range(items)
    ]
    store.insert_batch(batch, gens)
    return batch


def counts(store: Store, batch: BatchRow) -> tuple[int, int, int, int, int, str]:
    row = store.get_batch(batch.id, batch.owner)
    assert row is not None
    return (row.queued, row.processing, row.succeeded, row.failed, row.cancelled, row.status)


def batch_events(store: Store, owner: str = "key_a") -> list[dict[str, object]]:
    found = [e.data for e in store.events_after(owner, 0) if e.type == "batch.completed"]
    return [json.loads(d) if isinstance(d, str) else dict(d) for d in found]


def test_counts_follow_the_items_and_the_last_end_completes_the_batch(store: Store) -> None:
    batch = new_batch(store, 3)
    assert counts(store, batch) == (3, 0, 0, 0, 0, "running")
    first = store.claim("w1", MODELS, 30, 3)
    assert first is not None and first.batch_ref == batch.id and first.custom_id == "sku-0"
    assert counts(store, batch) == (2, 1, 0, 0, 0, "running")
    assert store.finish(first, "w1", Status.SUCCEEDED, result_key=f"outputs/{first.id}.png")
    second = store.claim("w1", MODELS, 30, 3)
    assert second is not None and store.requeue(second, "w1")  # a stopping worker gives it back
    assert counts(store, batch) == (2, 0, 1, 0, 0, "running")
    for status in (Status.FAILED, Status.SUCCEEDED):
        held = store.claim("w1", MODELS, 30, 3)
        assert held is not None
        store.finish(held, "w1", status, error_message="boom" if status is Status.FAILED else None)
    assert counts(store, batch) == (0, 0, 2, 1, 0, "completed")
    done = store.get_batch(batch.id)
    assert done is not None and done.finished_at is not None
    assert batch_events(store) == [{"batch_id": batch.id, "status": "completed", "total": 3,
                                    "succeeded": 2, "failed": 1, "cancelled": 0}]  # fmt: skip


def test_a_cancel_takes_only_what_has_not_started(store: Store) -> None:
    batch = new_batch(store, 4)
    running = store.claim("w1", MODELS, 30, 3)
    assert running is not None
    cancelled = store.cancel_batch(batch.id, "key_a")
    assert cancelled is not None and cancelled.cancel_requested
    assert counts(store, batch) == (0, 1, 0, 0, 3, "running")
    assert store.claim("w1", MODELS, 30, 3) is None  # nothing left to start
    store.finish(running, "w1", Status.SUCCEEDED, result_key=f"outputs/{running.id}.png")
    assert counts(store, batch) == (0, 0, 1, 0, 3, "cancelled")
    assert [e["status"] for e in batch_events(store)] == ["cancelled"]
    assert store.cancel_batch(batch.id, "key_b") is None  # another key's: not found


def test_items_are_read_in_order_a_page_at_a_time(store: Store) -> None:
    batch = new_batch(store, 7)
    first = store.batch_items(batch.id, -1, 3)
    rest = store.batch_items(batch.id, first[-1].batch_item or 0, 10)
    assert [g.batch_item for g in first + rest] == list(range(7))
    assert [g.custom_id for g in rest] == [f"sku-{n}" for n in range(3, 7)]


def test_batch_items_are_outside_the_queue_limit_and_after_interactive_work(store: Store) -> None:
    new_batch(store, 5)
    assert store.count_interactive_active("key_a") == 0
    assert store.batch_backlog("key_a") == 5
    interactive = make_gen("key_a")
    store.insert_generations([interactive], max_active=1)  # the batch does not count
    with pytest.raises(QueueFull):
        store.insert_generations([make_gen("key_a")], max_active=1)
    claimed = store.claim("w1", MODELS, 30, 3)
    assert claimed is not None and claimed.id == interactive.id


def test_batches_list_newest_first(store: Store) -> None:
    older = new_batch(store, 1)
    newer = new_batch(store, 1)
    listed = store.list_batches("key_a", 10)
    assert [b.id for b in listed] == [newer.id, older.id]
    assert [b.id for b in store.list_batches("key_a", 10, (newer.created_at, newer.id))] == [
        older.id
    ]
    assert store.list_batches("key_b", 10) == []
