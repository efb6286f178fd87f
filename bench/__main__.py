"""editserve's benchmarks, one command, one table of ratios measured in this one run.

    .venv/bin/python -m bench                  # defaults: a few minutes on 2 cores
    .venv/bin/python -m bench --full           # 10^6 stored generations, 1,000 subscribers
    .venv/bin/python -m bench --smoke          # smallest sizes: proves the code runs (CI)
    .venv/bin/python -m bench --only images,queue --postgres-url postgresql://...

Sections: ``events`` (SSE subscribers: the event hub vs per-subscriber polling),
``listing`` (every list and get call at 10^3 vs 10^N stored generations, SQLite and
PostgreSQL), ``queue`` (claim + finish per second with 8 workers, vs procrastinate on
the same PostgreSQL), ``images`` (input decode + resize and output encode vs plain
Pillow, with PSNR), ``overhead`` (a sync edit over HTTP against a real server vs the
adapter in-process on the same tiny weights; a bare ASGI endpoint as the HTTP floor),
``store`` (database bytes per finished generation, SQLite and PostgreSQL), ``model`` (the
tiny model's stages on the CPU at 1, 2 and 3 inputs), ``mask`` (a masked edit vs the same
edit without a mask, tiny model), ``swap`` (a worker's swap from an edit model to a
text-to-image one, keeping the shared components vs reading everything), ``annotators``
(each control-map annotator's time for 1 MP on one core: OpenCV, and the tiny twins),
``sweep`` (a 9-cell sweep vs the same cells as 9 separate requests, tiny model),
``batches`` (submitting 10,000 items vs the 10 s goal, a poll at 10,000 vs 10 items, an
API node's memory while they finish and while their manifest and zip stream).
Every row compares two things measured in this run on this machine; "ratio" is how many
times better ours is (above 1: better), "goal" the issue's target. PostgreSQL rows need a
server (default EDITSERVE_TEST_POSTGRES_URL or the local one) and are skipped without one.
The model's own speed options: bench/bench_options.py; the real architecture at full size
on a GPU: ``python -m bench.gpu``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from bench import common, stores

SECTIONS = (
    "events", "listing", "queue", "images", "overhead", "store", "model", "mask", "swap",
    "annotators", "sweep", "batches",
)  # fmt: skip


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="10^6 generations, 1,000 subscribers")
    parser.add_argument("--smoke", action="store_true", help="smallest sizes (CI)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma list of sections")
    parser.add_argument("--history", type=int, help="stored generations of the big store")
    parser.add_argument("--subscribers", type=int, help="SSE subscribers of the big round")
    parser.add_argument("--jobs", type=int, help="jobs the queue workers drain")
    parser.add_argument("--workers", type=int, default=8, help="queue worker processes")
    parser.add_argument("--repeat", type=int, help="repetitions per timing")
    parser.add_argument("--generations", type=int, help="generations of the store-size rows")
    parser.add_argument("--area", type=int, help="output pixels of the tiny-model rows")
    parser.add_argument("--postgres-url", help="admin URL of a PostgreSQL server")
    args = parser.parse_args(argv)
    size = "smoke" if args.smoke else "full" if args.full else "default"
    defaults = {
        "smoke": {
            "history": 300,
            "subscribers": 5,
            "jobs": 40,
            "repeat": 2,
            "generations": 100,
            "area": 64 * 64,
        },
        "default": {
            "history": 100_000,
            "subscribers": 1000,
            "jobs": 3000,
            "repeat": 15,
            "generations": 1000,
            "area": 256 * 256,
        },
        "full": {
            "history": 1_000_000,
            "subscribers": 1000,
            "jobs": 10_000,
            "repeat": 25,
            "generations": 5000,
            "area": 1024 * 1024,
        },
    }[size]
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.size = size
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = only - set(SECTIONS)
    if unknown:
        print(f"unknown sections: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    _more_files()
    postgres = stores.postgres_url(args.postgres_url)
    print(f"machine: {common.machine()}")
    print(f"PostgreSQL: {'yes' if postgres else 'no (its rows are skipped)'}; sizes: {args.size}")
    started = time.perf_counter()
    rows: list[common.Row] = []
    if "events" in only:
        from bench import events

        counts = [min(10, args.subscribers), args.subscribers]
        rows += events.run(sorted(set(counts)), 2 if args.smoke else 5)
    if "listing" in only:
        from bench import listing

        small = min(1000, max(10, args.history // 10))
        rows += listing.run(small, args.history, args.repeat, postgres)
    if "queue" in only:
        from bench import queue

        rows += queue.run(args.jobs, args.workers, postgres)
    if "images" in only:
        from bench import images

        rows += images.run(min(args.repeat, 5), scale=0.25 if args.smoke else 1.0)
    rows += _tiny_model_rows(args, only, postgres)
    if "swap" in only:
        from bench import model_swap

        rows += model_swap.run(max(1, min(args.repeat, 5)))
    if "annotators" in only:
        from bench import annotators

        rows += annotators.run(max(3, min(args.repeat, 15)), side=256 if args.smoke else 1024)
    if "batches" in only:
        from bench import batches

        rows += batches.run(300 if args.smoke else 10_000, min(args.repeat, 5), postgres)
    print(common.table(rows))
    print(f"(measured in one run, {time.perf_counter() - started:.0f} s)")
    return 0


def _tiny_model_rows(args: argparse.Namespace, only: set[str], postgres: str | None) -> list:
    """The store-size rows, then the two sections that share one in-process tiny model."""
    rows: list[common.Row] = []
    if "store" in only:
        from bench import store_size

        rows += store_size.run(args.generations, postgres)
    if not {"overhead", "model", "mask", "sweep"} & only:
        return rows
    import contextlib
    import tempfile

    from bench import masked_edit, model_stages, overhead, sweep, tiny_model

    repeat = max(2, min(args.repeat, 8))
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        live = None
        if "overhead" in only:  # the servers start while this process loads its model
            live = stack.enter_context(overhead.servers(Path(folder), min(args.area, 256**2)))
        adapter = tiny_model.load_adapter(tiny_model.tiny_settings(Path(folder), args.area))
        if live is not None:
            rows += overhead.run(adapter, live, 4, repeat)
        if "model" in only:
            rows += model_stages.run(adapter, args.area, 4, max(1, min(args.repeat, 3)))
        if "mask" in only:
            rows += masked_edit.run(adapter, args.area, 4, repeat)
        if "sweep" in only:
            rows += sweep.run(adapter, args.area, 4, max(1, min(args.repeat, 3)))
    return rows


def _more_files() -> None:
    """Many SSE subscribers need many sockets: raise the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


if __name__ == "__main__":
    sys.exit(main())
