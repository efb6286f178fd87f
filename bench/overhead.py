"""Server overhead: a sync edit over HTTP against the same edit by the adapter in-process.

A real server (``python -m editserve serve``: API process + one worker process, SQLite,
tiny random weights, 1 torch thread) answers ``POST /api/ai/images/edit``; this process
loads the very adapter the worker loads (same settings, same weights) and runs the same
job (built from the same request fields as a worker builds it); the two are interleaved
so other load on the machine hits both alike. What the server adds around the model is
measured per request: its wall time less its own model call (the ``inference`` timing
the worker returns): body parsing, the data-URI input, the enqueue, the worker's claim
(an idle worker is woken by the enqueue: SQLite's data_version, PostgreSQL's NOTIFY; it
polls every ``worker_poll_seconds`` only as a fallback), input decode, output encode and
storage, the finish and the answer; and the same less the queue wait. A bare Starlette
app under uvicorn answering a tiny JSON (bench/bare_asgi.py) is the floor of one HTTP
round trip.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import tiny_model
from bench.common import Row
from bench.events import _free_port

SECTION = "overhead"
REPO = Path(__file__).resolve().parents[1]


def interleaved(runs: list[Callable[[], Any]], repeat: int) -> list[list[float]]:
    """Wall times of each run, A B C A B C ... ``repeat`` times."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(max(1, repeat)):
        for index, run in enumerate(runs):
            started = time.perf_counter()
            run()
            times[index].append(time.perf_counter() - started)
    return times


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            args, cwd=REPO, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200 and ready():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not become ready:\n{log.read_text(errors='replace')[-3000:]}")


@dataclass
class Live:
    """The two servers, started before the in-process model loads (they load meanwhile)."""

    folder: Path
    area: int
    port: int
    bare_port: int
    server: subprocess.Popen[bytes]
    bare: subprocess.Popen[bytes]


@contextmanager
def servers(folder: Path, area: int) -> Iterator[Live]:
    """editserve (API + one worker, tiny weights) and the bare ASGI app, stopped after."""
    port, bare_port = _free_port(), _free_port()
    env = {**tiny_model.tiny_env(folder / "server", area), "EDITSERVE_PORT": str(port)}
    server = _start([sys.executable, "-m", "editserve", "serve"], env, folder / "server.log")
    bare = _start([sys.executable, "-m", "bench.bare_asgi", str(bare_port)], {}, folder / "b.log")
    try:
        yield Live(folder, area, port, bare_port, server, bare)
    finally:
        _stop(server)
        _stop(bare)


def measure(adapter: Any, live: Live, steps: int, repeat: int) -> dict[str, float]:
    data, folder = live.folder / "server", live.folder
    key_file = data / "api_key"
    _wait(
        f"http://127.0.0.1:{live.port}/readyz", live.server, folder / "server.log", key_file.exists
    )
    _wait(f"http://127.0.0.1:{live.bare_port}/healthz", live.bare, folder / "b.log", lambda: True)
    headers = {"Authorization": f"Bearer {key_file.read_text().strip()}"}
    settings = tiny_model.tiny_settings(data, live.area)
    job = tiny_model.make_job(settings, 1, steps)
    body = {"model": tiny_model.MODEL, **tiny_model.request_fields(1, steps)}
    # per request: its wall time less the worker's own model call (same request, so no
    # noise between samples), and that less the queue wait (enqueue to claim)
    around: list[float] = []
    waits: list[float] = []
    with (
        httpx.Client(
            base_url=f"http://127.0.0.1:{live.port}", headers=headers, timeout=300
        ) as ours,
        httpx.Client(base_url=f"http://127.0.0.1:{live.bare_port}", timeout=30) as floor,
    ):

        def edit() -> None:
            began = time.perf_counter()
            response = ours.post("/api/ai/images/edit", json=body)
            wall = time.perf_counter() - began
            response.raise_for_status()
            timings = response.json().get("timings") or {}
            around.append(wall - float(timings["inference"]))
            waits.append(float(timings.get("queue_wait", 0.0)))

        edit()  # first request: connections, caches
        around.clear()
        waits.clear()
        http_s, local_s = interleaved(
            [edit, lambda: adapter.generate(job, tiny_model.ignore)], repeat
        )
        small = max(20, repeat * 10)
        health_s, bare_s = interleaved(
            [lambda: ours.get("/healthz"), lambda: floor.get("/healthz")], small
        )
    return {
        "http": statistics.median(http_s),
        "local": statistics.median(local_s),
        "queue_wait": statistics.median(waits),
        "around": statistics.median(around),
        "around_less_wait": statistics.median(a - w for a, w in zip(around, waits, strict=True)),
        "healthz": statistics.median(health_s),
        "bare": statistics.median(bare_s),
        "width": job.width,
        "height": job.height,
        "poll": settings.worker_poll_seconds,
    }


def run(adapter: Any, live: Live, steps: int, repeat: int) -> list[Row]:
    got = measure(adapter, live, steps, repeat)
    size = f"{got['width']:.0f}x{got['height']:.0f}"
    return [
        Row(SECTION, f"sync edit over HTTP vs adapter in-process (tiny, 1 input, {size}, "
                     f"{steps} steps)", got["http"], got["local"], "s",
            note=f"medians; queue wait p50 {got['queue_wait'] * 1000:.0f} ms (the enqueue "
                 f"wakes the idle worker; fallback poll {got['poll']:g} s)"),
        Row(SECTION, "server overhead per sync edit vs one bare ASGI round trip",
            got["around"], got["bare"], "s",
            note="overhead: the request's wall time less its model call (worker's timings)"),
        Row(SECTION, "same, less the queue wait (enqueue to claim) vs one bare ASGI round trip",
            got["around_less_wait"], got["bare"], "s",
            note="API, input decode, output encode and storage, finish, answer"),
        Row(SECTION, "GET /healthz vs a bare ASGI endpoint", got["healthz"], got["bare"], "s",
            note="same uvicorn, same client (keep-alive)"),
    ]  # fmt: skip
