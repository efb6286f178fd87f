"""The prune service on SQLite and the local folder: the API node's periodic prune, a blob
reused mid-prune put back, a lease lost mid-run, the CLI when another node prunes."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from editserve.blobs import LocalStorage
from editserve.commands.prune import prune
from editserve.core.settings import Settings
from editserve.domain.record import Generation, Status
from editserve.services.retention.auto import run_retention
from editserve.services.retention.prune import LeaseLost, Pruner
from editserve.store.retention import INPUTS, input_keys
from editserve.store.sqlite import SqliteStore

MODEL = "qwen-image-edit-plus"
DAY = 86400.0


def old_generation(store: SqliteStore, path: Path, result_key: str | None = None) -> Generation:
    """An ended generation, made to look 40 days old."""
    gen = Generation(
        id=str(uuid.uuid4()), owner="key_a", model=MODEL, status=Status.QUEUED,
        params={}, inputs=[], batch_id=str(uuid.uuid4()), batch_index=0, seed=1,
        width=8, height=8, area=64, enqueued_at=time.time(),
    )  # fmt: skip
    store.insert_generations([gen])
    [claimed] = store.claim_batch("w", [MODEL], 30, 3, 1)
    assert store.finish(claimed, "w", Status.SUCCEEDED, result_key=result_key)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE generations SET completed_at = completed_at - ?", (40 * DAY,))
        db.execute("UPDATE events SET created_at = created_at - ?", (40 * DAY,))
    return gen


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "editserve.db"


@pytest.fixture
def store(db: Path) -> SqliteStore:
    return SqliteStore(db)


def test_input_keys_reads_the_stored_inputs() -> None:
    stored = '[{"key": "inputs/a.png"}, {"key": "inputs/a.png"}, {"nokey": 1}, "x", {"key": 3}]'
    assert input_keys(stored) == ("inputs/a.png",)
    assert input_keys([{"key": "inputs/b.png"}]) == ("inputs/b.png",)
    assert input_keys('{"key": "inputs/c.png"}') == ()


async def test_api_nodes_prune_periodically_when_retention_is_set(
    tmp_path: Path, db: Path, store: SqliteStore
) -> None:
    storage = LocalStorage(tmp_path / "files")
    storage.put("outputs/x.png", b"img", "image/png")
    gen = old_generation(store, db, "outputs/x.png")
    stop = asyncio.Event()

    off = Settings(data_dir=tmp_path)
    await asyncio.wait_for(run_retention(off, store, storage, stop, first_after=0), 10)
    assert store.get_generation(gen.id) is not None  # retention off: the loop returns at once

    on = Settings(data_dir=tmp_path, retention_days=30)
    loop = asyncio.create_task(run_retention(on, store, storage, stop, first_after=0))
    while store.get_generation(gen.id) is not None:
        assert not loop.done(), loop
        await asyncio.sleep(0.05)
    assert not storage.exists("outputs/x.png")
    stop.set()
    await asyncio.wait_for(loop, 10)
    assert store.prune_lease().holder is None and store.prune_lease().last_finished_at


class ReusedMeanwhile:
    """A store in which a request starts using a blob while the prune deletes it."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self.answers = [False, True]

    def blob_in_use(self, key: str) -> bool:
        return self.answers.pop(0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_blob_reused_while_it_is_deleted_is_put_back(tmp_path: Path, store: SqliteStore) -> None:
    storage = LocalStorage(tmp_path / "files")
    storage.put("inputs/a.png", b"bytes", "image/png")
    pruner = Pruner(ReusedMeanwhile(store), storage)  # type: ignore[arg-type]

    assert pruner._delete_blob("inputs/a.png", INPUTS) is False
    assert storage.get("inputs/a.png") == b"bytes"
    assert storage.content_type("inputs/a.png") == "image/png"


class StolenLease:
    """A store whose lease another node takes after the first renewal."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self.renewals = 0

    def take_prune_lease(self, holder: str, ttl_seconds: float) -> bool:
        self.renewals += 1
        return self.renewals <= 2 and self._store.take_prune_lease(holder, ttl_seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_run_that_loses_its_lease_stops_and_gives_it_back(
    tmp_path: Path, db: Path, store: SqliteStore
) -> None:
    old_generation(store, db)
    pruner = Pruner(StolenLease(store), LocalStorage(tmp_path / "files"), holder="me")  # type: ignore[arg-type]

    with pytest.raises(LeaseLost):
        pruner.run(30)
    lease = store.prune_lease()
    assert lease.holder is None and lease.last_finished_at is None  # released, unfinished


def test_the_cli_says_when_another_node_is_pruning(tmp_path: Path, store: SqliteStore) -> None:
    assert store.take_prune_lease("node-b:42", 300)
    runner = CliRunner()
    args = ["--data-dir", str(tmp_path), "--older-than", "1"]

    out = runner.invoke(prune, args)
    assert out.exit_code == 0, out.output
    assert "another node is pruning (node-b:42); nothing done" in out.output

    store.release_prune_lease("node-b:42", finished=False)
    out = runner.invoke(prune, [*args, "--json"])
    assert out.exit_code == 0, out.output
    assert '"ran": true' in out.output and '"deleted"' in out.output
