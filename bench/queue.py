"""The queue: claim + finish of no-op jobs per second, editserve against a widely used peer.

8 worker processes (``--workers``) drain a queue of ``--jobs`` jobs: each claims one job
(lease, started event), does nothing, and finishes it (completed event) together with its
next claim, as editserve's worker does (``Store.finish_and_claim``: one statement on
PostgreSQL, one transaction on SQLite), until the queue is empty. Timed from the moment
every worker is ready until the last job is done. Each finish records its usage (gpu_seconds:
the usage_hours trigger runs, as for a real worker). The queue is filled by one key, then
again by 100 keys round-robin with varied estimated costs: the fair-share order
(store/fairness.py) must keep the claim one index step with many keys waiting.

The peer is procrastinate (a PostgreSQL task queue for Python, maintained and widely
used), on the same PostgreSQL server, doing the same no-op work with the same number of
worker processes (one job at a time each). It is the closest like-for-like peer: same
database, same kind of atomic claim; Celery would measure Redis instead. It is a
bench-only dependency (the ``bench`` extra); without it the row says so.
"""

from __future__ import annotations

import multiprocessing as mp
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Row
from bench.stores import MODEL, new_gen, open_store, pg_database
from editserve.domain.record import Status
from editserve.store.rows import NextClaim

SECTION = "queue"
LEASE = 300.0


def _editserve_worker(kind: str, where: str, ready: Any, go: Any, done: Any) -> None:
    worker = {"plans_kept": True} if kind == "postgres" else {}  # as a worker's store
    with open_store(kind, where, max_connections=1, min_connections=1, **worker) as store:
        store.last_event_id()  # connected
        ready.release()
        go.wait()
        count, worker_id = 0, f"w{mp.current_process().pid}"
        then = NextClaim(models=(MODEL,), lease_seconds=LEASE, max_attempts=3)
        gen = store.claim(worker_id, [MODEL], LEASE, 3)
        while gen is not None:  # as the worker does: a finish brings the next claim
            finished, claimed = store.finish_and_claim(
                gen, worker_id, Status.SUCCEEDED, then, result_key="k",
                gpu_seconds=0.001, output_megapixels=1.0,
            )  # fmt: skip
            assert finished
            count += 1
            gen = claimed[0] if claimed else None
        done.put(count)


def _drain(target: Any, args: tuple[Any, ...], workers: int) -> float:
    """Start the workers, release them together, return the seconds until all are done."""
    ctx = mp.get_context("spawn")
    ready, go, done = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, ready, go, done)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.acquire()
    started = time.perf_counter()
    go.set()
    total = sum(done.get(timeout=600) for _ in procs)
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join(timeout=30)
    assert total >= 0
    return elapsed


def editserve_rate(kind: str, where: str, jobs: int, workers: int, keys: int = 1) -> float:
    """Claims+finishes a second of ``workers`` draining ``jobs`` enqueued by ``keys`` keys
    (round-robin, estimated costs 1-4 s)."""
    owners = [f"key_bench_{index}" for index in range(keys)]
    with open_store(kind, where) as store:
        for start in range(0, jobs, 100):
            gens = [new_gen(owners[(start + i) % keys]) for i in range(min(100, jobs - start))]
            costs = {gen.id: 1.0 + (index % 4) for index, gen in enumerate(gens)}
            store.insert_generations(gens, costs=costs)
    seconds = _drain(_editserve_worker, (kind, where), workers)
    with open_store(kind, where) as store:
        done = sum(store.count_generations(owner, [Status.SUCCEEDED]) for owner in owners)
        assert done == jobs
    return jobs / seconds


# --- procrastinate ------------------------------------------------------------------------
def _procrastinate_app(url: str) -> Any:
    import procrastinate  # noqa: PLC0415 - bench-only dependency

    app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=url))
    return app


def _procrastinate_worker(url: str, ready: Any, go: Any, done: Any) -> None:
    import procrastinate  # noqa: PLC0415

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="noop")
    def noop() -> None:
        return None

    with app.open():
        ready.release()
        go.wait()
        app.run_worker(wait=False, concurrency=1, install_signal_handlers=False)
    done.put(0)


def procrastinate_rate(url: str, jobs: int, workers: int) -> float:
    import procrastinate  # noqa: PLC0415

    app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=url))

    @app.task(name="noop")
    def noop() -> None:
        return None

    with app.open():
        app.schema_manager.apply_schema()
        for start in range(0, jobs, 500):
            noop.batch_defer(*({} for _ in range(min(500, jobs - start))))
    return jobs / _drain(_procrastinate_worker, (url,), workers)


def run(jobs: int, workers: int, postgres: str | None) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        lite = editserve_rate("sqlite", folder, jobs, workers)
    if postgres is None:
        return [Row(SECTION, f"SQLite claim+finish/s, {workers} workers", lite, float("nan"),
                    "/s", higher_is_better=True,
                    note="PostgreSQL rows skipped: no server")]  # fmt: skip
    with pg_database(postgres) as url:
        pg = editserve_rate("postgres", url, jobs, workers)
    with pg_database(postgres) as url:
        pg_keys = editserve_rate("postgres", url, jobs, workers, keys=100)
    peer, note = float("nan"), "procrastinate not installed (pip install -e '.[bench]')"
    try:
        import procrastinate  # noqa: F401, PLC0415
    except ImportError:
        pass
    else:
        with pg_database(postgres) as url:
            peer = procrastinate_rate(url, jobs, workers)
        note = "peer: procrastinate, same server, same no-op work"
    rows.append(Row(SECTION, f"PostgreSQL claim+finish/s, {workers} workers", pg, peer, "/s",
                    higher_is_better=True, note=note))  # fmt: skip
    rows.append(Row(SECTION, f"SQLite vs PostgreSQL claim+finish/s, {workers} workers", lite, pg,
                    "/s", higher_is_better=True, note="SQLite must be no slower"))  # fmt: skip
    rows.append(Row(SECTION, "PostgreSQL claim+finish/s vs the 1,000/s goal", pg, 1000.0, "/s",
                    higher_is_better=True, goal=1.0,
                    note="goal: ≥ 1,000/s with 8 workers"))  # fmt: skip
    rows.append(Row(SECTION, "same, 100 keys sharing fairly vs the 1,000/s goal", pg_keys,
                    1000.0, "/s", higher_is_better=True, goal=1.0,
                    note="jobs of 100 keys round-robin, varied costs"))  # fmt: skip
    rows.append(Row(SECTION, "PostgreSQL claim+finish/s, 100 keys vs 1 key", pg_keys, pg,
                    "/s", higher_is_better=True,
                    note="the fair order's cost with contention between keys"))  # fmt: skip
    return rows


__all__ = ["run", "Path"]
