"""Store bytes per generation: how much the database grows per finished generation.

N generations go through the whole life a worker gives them, through the store's own
calls: enqueued (one request each, with a realistic params and inputs record), claimed
(started event), PROGRESS progress events, finished with timings and a receipt of the
size a real one has (completed event). The growth of the database (SQLite: the file after
a WAL checkpoint; PostgreSQL: ``pg_database_size``) divided by N is compared with the
same records written as compact JSON (the generation row as the API reads it, plus its
events): ratio = JSON bytes / stored bytes, below 1 where indexes, counters and page
slack take more than the data itself.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from bench.common import Row
from bench.stores import MODEL, new_gen, open_store, pg_database
from editserve.domain.record import Status
from editserve.models.qwen_image_edit.request.options import ModelOptions
from editserve.store import Store

SECTION = "store"
PROGRESS = 8  # progress events per generation (e.g. an 8-step edit: one per step)
OWNER = "key_bench_size"


def _params() -> dict[str, Any]:
    return {
        "prompt": "Replace the sky with a warm sunset and add a small red balloon, keep the "
        "people unchanged",
        "input_image": ["https://images.example.com/uploads/2026/11/holiday-photo-0001.jpg"],
        "num_inference_steps": 40,
        "true_cfg_scale": 4.0,
        "negative_prompt": " ",
        "aspect_ratio": "auto",
        "output_format": "png",
        "seed": 1234567,
    }


def _receipt() -> dict[str, Any]:
    """A receipt shaped like a worker's (options, scheduler with its sigmas, versions)."""
    return {
        "model": MODEL,
        "weights": {"source": "Qwen/Qwen-Image-Edit-2509", "revision": "d3968ef930e8" * 3},
        "options": ModelOptions().describe(),
        "scheduler": {"class": "FlowMatchEulerDiscreteScheduler", "shift": 1.0,
                      "sigmas": [round(1 - i / 40, 5) for i in range(41)]},
        "versions": {"torch": "2.14.1", "diffusers": "0.42.1", "transformers": "5.23.0"},
        "seed": 1234567, "steps": 40, "true_cfg_scale": 4.0, "width": 1024, "height": 1024,
        "inputs": [{"width": 1024, "height": 768, "sha256": "0" * 64}], "loras": [],
    }  # fmt: skip


TIMINGS = {"input_decode": 0.05, "queue_wait": 0.2, "text_encode": 0.4, "vae_encode": 0.3,
           "denoise": 12.1, "decode": 0.6, "encode_store": 0.1, "total": 13.6}  # fmt: skip


def live(store: Store, count: int) -> list[str]:
    """``count`` generations through their whole life; returns their ids."""
    ids = []
    for _ in range(count):
        gen = new_gen(OWNER, params=_params(), inputs=[{"key": "inputs/x.jpg", "sha256": "0" * 64}])
        store.insert_generations([gen])
        claimed = store.claim("bench-size", [MODEL], 300, 3)
        assert claimed is not None
        for step in range(1, PROGRESS + 1):
            store.report_progress([claimed], "bench-size", step, PROGRESS, "denoising", emit=True)
        key = f"outputs/{claimed.id}.png"
        done = store.finish(
            claimed, "bench-size", Status.SUCCEEDED, result_key=key, timings=TIMINGS,
            receipt=_receipt(),
        )  # fmt: skip
        assert done
        ids.append(gen.id)
    return ids


def json_bytes(store: Store, ids: list[str]) -> tuple[float, float]:
    """Mean bytes of one generation and its events as compact JSON; mean events."""
    events = store.events_after(OWNER, 0, limit=10_000)
    sample = ids[: min(len(ids), 50)]
    total = 0
    for gen_id in sample:
        gen = store.get_generation(gen_id)
        total += len(json.dumps(dataclasses.asdict(gen), default=str, separators=(",", ":")))  # type: ignore[call-overload]
    own = [e for e in events if e.generation_id in set(sample)]
    total += sum(len(json.dumps(dataclasses.asdict(e), default=str, separators=(",", ":")))
                 for e in own)  # fmt: skip
    return total / max(1, len(sample)), len(own) / max(1, len(sample))


def _sqlite_bytes(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    return int((pages - free) * size)


def _pg_bytes(store: Store) -> int:
    dialect: Any = store.dialect  # type: ignore[attr-defined]
    with dialect._pool.connection() as conn:
        row = conn.execute("SELECT pg_database_size(current_database()) AS n").fetchone()
    return int(row["n"] if isinstance(row, dict) else row[0])


def measure(kind: str, where: str, count: int) -> tuple[float, float, float]:
    """(stored bytes, JSON bytes, events) per generation."""
    with open_store(kind, where) as store:
        live(store, 5)  # first pages of every table and index: not counted
        size = (lambda: _sqlite_bytes(Path(where) / "bench.db")) if kind == "sqlite" else (
            lambda: _pg_bytes(store))  # fmt: skip
        before = size()
        ids = live(store, count)
        after = size()
        return ((after - before) / count, *json_bytes(store, ids))


def run(count: int, postgres: str | None) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        rows.append(_row("SQLite", count, *measure("sqlite", folder, count)))
    if postgres is None:
        rows.append(Row(SECTION, "PostgreSQL bytes per generation", float("nan"), float("nan"),
                        "B", note="skipped: no server"))  # fmt: skip
        return rows
    with pg_database(postgres) as url:
        rows.append(_row("PostgreSQL", count, *measure("postgres", url, count)))
    return rows


def _row(kind: str, count: int, stored: float, raw: float, events: float) -> Row:
    return Row(SECTION, f"{kind} bytes per finished generation ({count:,}, with events)",
               stored, raw, "B", higher_is_better=False,
               note=f"baseline: the record and its {events:.0f} events as JSON")  # fmt: skip
