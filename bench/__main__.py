"""editserve's benchmarks, one command, one table of ratios measured in this one run.

    .venv/bin/python -m bench                  # defaults: a few minutes on 2 cores
    .venv/bin/python -m bench --full           # 10^6 stored generations, 1,000 subscribers
    .venv/bin/python -m bench --smoke          # smallest sizes: proves the code runs (CI)
    .venv/bin/python -m bench --only images,queue --postgres-url postgresql://...

Sections: ``events`` (SSE subscribers: the event hub vs per-subscriber polling),
``listing`` (every list and get call at 10^3 vs 10^N stored generations, SQLite and
PostgreSQL), ``queue`` (claim + finish per second with 8 workers, vs procrastinate on
the same PostgreSQL), ``images`` (input decode + resize and output encode vs plain
Pillow, with PSNR). Every row compares two things measured in this run on this machine;
"ratio" is how many times better ours is (above 1: better), "goal" the issue's target.
PostgreSQL rows need a server (default EDITSERVE_TEST_POSTGRES_URL or the local one) and
are skipped without one. The model's own speed options: bench/bench_options.py.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from bench import common, stores

SECTIONS = ("events", "listing", "queue", "images")


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
    parser.add_argument("--postgres-url", help="admin URL of a PostgreSQL server")
    args = parser.parse_args(argv)
    size = "smoke" if args.smoke else "full" if args.full else "default"
    defaults = {
        "smoke": {"history": 300, "subscribers": 5, "jobs": 40, "repeat": 2},
        "default": {"history": 100_000, "subscribers": 1000, "jobs": 3000, "repeat": 15},
        "full": {"history": 1_000_000, "subscribers": 1000, "jobs": 10_000, "repeat": 25},
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
    print(common.table(rows))
    print(f"(measured in one run, {time.perf_counter() - started:.0f} s)")
    return 0


def _more_files() -> None:
    """Many SSE subscribers need many sockets: raise the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


if __name__ == "__main__":
    sys.exit(main())
