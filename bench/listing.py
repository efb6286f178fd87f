"""Listings and gets against the size of the history: every list and get endpoint's
service call with 10^3 and with 10^N stored generations of the key (10^6 with --full), on
SQLite and PostgreSQL. Flat means the big history costs at most 2x the small one (ratio
≥ 0.5). Rows "legacy" run the statements editserve used before migration 004 (OFFSET
paging, COUNT over the history) on the same big store, for scale.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.common import Row
from bench.stores import OWNER, bulk_history, new_gen, open_store, pg_database
from editserve.core.settings import Settings
from editserve.domain.record import Generation
from editserve.models.registry import default_registry
from editserve.services.generations.service import GenerationService
from editserve.store import Store

SECTION = "listing"
PAGE_SIZE = 50


def _active(store: Store) -> Generation:
    """5 queued and 2 processing generations of the key; returns a queued one."""
    gens = [new_gen(OWNER) for _ in range(7)]
    store.insert_generations(gens)
    for _ in range(2):
        store.claim("bench-worker", [gens[0].model], 3600, 3)
    return gens[-1]


def url_for(key: str) -> str:
    return f"http://bench.invalid/{key}"


Call = Callable[[], Awaitable[Any]]


def _calls(svc: GenerationService, queued: Generation, total: int) -> dict[str, Call]:
    last_page = max(1, -(-total // PAGE_SIZE))
    return {
        "GET /api/ai/queue (active list)": lambda: svc.list_active(OWNER, url_for),
        "GET /api/ai/queue/{id}": lambda: svc.get(OWNER, queued.id, url_for),
        "history page 1": lambda: svc.history(OWNER, url_for, page=1, page_size=PAGE_SIZE),
        "history last page": lambda: svc.history(
            OWNER, url_for, page=last_page, page_size=PAGE_SIZE
        ),
        "history page 1, status=succeeded": lambda: svc.history(
            OWNER, url_for, page=1, page_size=PAGE_SIZE, status="succeeded"
        ),
    }


async def _median_ms(call: Call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    times.sort()
    return times[len(times) // 2]


def measure(kind: str, where: Path | str, size: int, repeat: int) -> dict[str, float]:
    """Median seconds of each call with ``size`` generations in the key's history."""
    with open_store(kind, where) as store:
        bulk_history(kind, where, OWNER, size)
        queued = _active(store)
        settings = Settings(data_dir=Path(tempfile.gettempdir()) / "editserve-bench")
        svc = GenerationService(settings, store, default_registry())
        calls = _calls(svc, queued, size + 7)

        async def run_all() -> dict[str, float]:
            for call in calls.values():  # warm up (prepared statements, caches)
                await call()
            return {name: await _median_ms(call, repeat) for name, call in calls.items()}

        results = asyncio.run(run_all())
        results.update(_legacy(store, repeat))
    return results


def _legacy(store: Store, repeat: int) -> dict[str, float]:
    """The statements before migration 004: COUNT over the key's rows, OFFSET paging."""
    dialect: Any = store.dialect  # type: ignore[attr-defined]
    kind = "sqlite" if hasattr(dialect, "path") else "postgres"
    p = (lambda n: f":{n}") if kind == "sqlite" else (lambda n: f"%({n})s")
    count = f"SELECT COUNT(*) AS n FROM generations WHERE owner = {p('owner')}"
    page = (
        f"SELECT * FROM generations WHERE owner = {p('owner')} "
        f"ORDER BY seq DESC LIMIT {PAGE_SIZE} OFFSET {p('offset')}"
    )

    def legacy_last_page() -> None:
        total = _raw(dialect, kind, count, {"owner": OWNER})[0]["n"]
        _raw(dialect, kind, page, {"owner": OWNER, "offset": max(0, total - PAGE_SIZE)})

    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        legacy_last_page()
        times.append(time.perf_counter() - started)
    times.sort()
    return {"legacy: COUNT + OFFSET last page (store only)": times[len(times) // 2]}


def _raw(dialect: Any, kind: str, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    if kind == "sqlite":
        return list(dialect._conn().execute(query, params).fetchall())
    with dialect._pool.connection() as conn:
        return list(conn.execute(query, params).fetchall())


def run(small: int, big: int, repeat: int, postgres: str | None) -> list[Row]:
    rows: list[Row] = []
    kinds = ["sqlite"] + (["postgres"] if postgres else [])
    for kind in kinds:
        results = {}
        for size in (small, big):
            if kind == "sqlite":
                with tempfile.TemporaryDirectory() as folder:
                    results[size] = measure(kind, folder, size, repeat)
            else:
                assert postgres is not None
                with pg_database(postgres) as url:
                    results[size] = measure(kind, url, size, repeat)
        for name in results[small]:
            legacy = name.startswith("legacy")
            rows.append(
                Row(SECTION, f"{kind}: {name}, {big:.0e} vs {small:.0e}",
                    results[big][name], results[small][name], "s",
                    goal=None if legacy else 0.5,
                    note="before migration 004, for scale" if legacy else "ratio ≥ 0.5: flat")
            )  # fmt: skip
    if not postgres:
        rows.append(
            Row(SECTION, "postgres", float("nan"), float("nan"), "s", note="skipped: no server")
        )
    return rows
