"""Stores for the benchmarks: a SQLite file, or a fresh PostgreSQL database; bulk history.

PostgreSQL is the server at ``--postgres-url`` (default EDITSERVE_TEST_POSTGRES_URL, else
postgresql://postgres@127.0.0.1:5432/test); each run makes its own database
(editserve_bench_*) and drops it after. Sections that need it say "skipped" without it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from editserve.domain.record import Generation, Status
from editserve.store import Store
from editserve.store.postgres import PostgresStore
from editserve.store.sqlite import SqliteStore

MODEL = "qwen-image-edit-plus"
OWNER = "key_bench"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_url(given: str | None) -> str | None:
    """The admin URL if that server answers, else None."""
    url = given or os.environ.get("EDITSERVE_TEST_POSTGRES_URL", DEFAULT_PG)
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return None
    return url


@contextmanager
def pg_database(admin: str) -> Iterator[str]:
    """A fresh database on the admin URL's server, dropped at the end; yields its URL."""
    name = f"editserve_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(admin)._replace(path="/" + name))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def open_store(kind: str, where: Path | str, **pg: Any) -> Iterator[Store]:
    store: Store = (
        SqliteStore(Path(where) / "bench.db")
        if kind == "sqlite"
        else PostgresStore(str(where), **pg)
    )
    try:
        yield store
    finally:
        store.close()


COLUMNS = (
    "id", "owner", "model", "status", "params", "inputs", "batch_id", "batch_index", "priority",
    "seed", "width", "height", "area", "enqueued_at", "started_at", "completed_at",
    "result_key", "timings", "receipt", "attempts", "owner_seq",
)  # fmt: skip


def history_rows(owner: str, count: int, first_seq: int = 1) -> Iterator[tuple[Any, ...]]:
    """``count`` succeeded generations of one key, as the worker leaves them."""
    now = time.time() - count
    params = json.dumps(
        {"prompt": "replace the sky with a sunset", "input_image": ["https://x.test/a.jpg"],
         "num_inference_steps": 40, "true_cfg_scale": 4.0, "output_format": "png"},
        separators=(",", ":"),
    )  # fmt: skip
    timings = json.dumps({"input_decode": 0.05, "denoise": 12.1, "total": 13.2})
    receipt = json.dumps({"model": MODEL, "steps": 40})
    for index in range(count):
        gen_id = str(uuid.uuid4())
        yield (
            gen_id, owner, MODEL, "succeeded", params,
            json.dumps([{"key": f"inputs/{gen_id}.jpg", "sha256": "0" * 64}]), gen_id, 0, 0,
            index, 1024, 1024, 1048576, now + index, now + index + 1, now + index + 14,
            f"outputs/{gen_id}.png", timings, receipt, 1, first_seq + index,
        )  # fmt: skip


def bulk_history(kind: str, where: Path | str, owner: str, count: int) -> None:
    """Insert ``count`` ended generations of ``owner`` directly (fast), counters included."""
    marks = ", ".join("?" if kind == "sqlite" else "%s" for _ in COLUMNS)
    insert = f"INSERT INTO generations ({', '.join(COLUMNS)}) VALUES ({marks})"
    if kind == "sqlite":
        conn = sqlite3.connect(Path(where) / "bench.db", isolation_level=None)
        try:
            conn.execute("BEGIN")
            conn.executemany(insert, history_rows(owner, count))
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    with psycopg.connect(str(where), autocommit=True) as pg:
        with pg.transaction():
            # the triggers would count row by row: count once after, as migration 004 does
            pg.execute("SET LOCAL session_replication_role = replica")
            with pg.cursor().copy(
                f"COPY generations ({', '.join(COLUMNS)}) FROM STDIN"  # type: ignore[arg-type]
            ) as copy:
                for row in history_rows(owner, count):
                    copy.write_row(row)
            pg.execute(
                "INSERT INTO generation_counts (owner, model, status, shard, n) "
                "SELECT owner, model, status, abs(hashtext(id) %% 16), COUNT(*) "
                "FROM generations WHERE owner = %s AND status = 'succeeded' "
                "GROUP BY 1, 2, 3, 4 ON CONFLICT (owner, model, status, shard) "
                "DO UPDATE SET n = excluded.n",
                (owner,),
            )
        pg.execute("VACUUM ANALYZE generations")


def new_gen(owner: str = OWNER, **overrides: Any) -> Generation:
    """A queued generation as the API would enqueue it."""
    values: dict[str, Any] = dict(
        id=str(uuid.uuid4()), owner=owner, model=MODEL, status=Status.QUEUED,
        params={"prompt": "p", "input_image": ["https://x.test/a.jpg"]}, inputs=[],
        batch_id=str(uuid.uuid4()), batch_index=0, seed=1, width=1024, height=1024,
        area=1048576, enqueued_at=time.time(),
    )  # fmt: skip
    values.update(overrides)
    return Generation(**values)
