"""Batches (issue 22) against a real API node (``editserve serve --workers 0``), on SQLite
and on PostgreSQL when a server is given.

- submit: a batch of N items (a template over one uploaded picture) over HTTP, wall time
  against the issue's 10 s for 10,000 items (ratio = 10 s / ours; goal >= 1).
- poll: ``GET /api/ai/batches/{id}`` of an N-item batch against a 10-item one, best of
  interleaved polls (ratio = small / big; 1 is flat: the counts are one row).
- memory: the API process's RSS while the N items finish (a worker loop here claims and
  finishes them through the store, with a poll of the batch every 0.2 s) and while the
  N-line manifest and the zip of N outputs are streamed, against its RSS just before
  (ratio = before / peak; goal >= 0.9: flat within 10%).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import stores, tiny_model
from bench.common import Row, paired
from editserve.core.settings import Settings
from editserve.domain.record import Status

SECTION = "batches"
GOAL_SECONDS = 10.0
SMALL = 10


def run(items: int, repeat: int, postgres: str | None) -> list[Row]:
    rows: list[Row] = []
    kinds = ["sqlite"] + (["postgresql"] if postgres else [])
    for kind in kinds:
        with contextlib.ExitStack() as stack:
            folder = Path(stack.enter_context(_tempdir()))
            url = (
                stack.enter_context(stores.pg_database(postgres))
                if postgres and kind != "sqlite"
                else None
            )
            node = stack.enter_context(_api_node(folder, url))
            rows += _measure(node, kind, items, repeat)
    return rows


class _Node:
    def __init__(self, process: subprocess.Popen[bytes], base: str, key: str, env: dict[str, str]):
        self.process = process
        self.http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"},
                                 timeout=300)  # fmt: skip
        self.settings = Settings(**{k.removeprefix("EDITSERVE_").lower(): v for k, v in env.items()
                                    if k != "EDITSERVE_PORT"})  # fmt: skip

    def rss(self) -> int:
        proc = psutil.Process(self.process.pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])


def _measure(node: _Node, kind: str, items: int, repeat: int) -> list[Row]:
    upload = node.http.post("/api/ai/uploads", files={"file": ("p.png", tiny_model_png())})
    upload.raise_for_status()
    picture = upload.json()["url"]

    def submit(count: int) -> str:
        body = {"template": {"model": tiny_model.MODEL, "prompt": "on white",
                             "num_inference_steps": 1}, "images": [picture] * count}  # fmt: skip
        answer = node.http.post("/api/ai/batches", json=body)
        answer.raise_for_status()
        return str(answer.json()["id"])

    small = submit(SMALL)
    started = time.perf_counter()
    big = submit(items)
    seconds = time.perf_counter() - started
    goal = GOAL_SECONDS * items / 10_000
    rows = [Row(SECTION, f"submit a {items:,}-item batch ({kind})", seconds, goal, "s",
                goal=1.0, note=f"vs the issue's {goal:g} s")]  # fmt: skip
    get = node.http.get
    polls = max(20, repeat * 5)
    t_small, t_big = paired(lambda: get(f"/api/ai/batches/{small}"),
                            lambda: get(f"/api/ai/batches/{big}"), polls)  # fmt: skip
    rows.append(Row(SECTION, f"poll a batch: {items:,} vs {SMALL} items ({kind})", t_big * 1e3,
                    t_small * 1e3, "ms", goal=0.8, note="one row read either way"))  # fmt: skip
    before = node.rss()
    peak = _peak_while(node, lambda: _finish_all(node, big, items + SMALL))
    rows.append(Row(SECTION, f"API RSS while {items:,} items finish ({kind})", peak / 2**20,
                    before / 2**20, "MB", goal=0.9, note="before / peak"))  # fmt: skip
    before = node.rss()
    sizes: list[int] = []
    peak = _peak_while(node, lambda: sizes.extend(_stream(node, big)))
    streamed = f"{sizes[0] / 2**20:.1f} MB + {sizes[1] / 2**20:.1f} MB streamed"
    rows.append(Row(SECTION, f"API RSS streaming manifest + zip ({kind})", peak / 2**20,
                    before / 2**20, "MB", goal=0.9, note=streamed))  # fmt: skip
    return rows


def _finish_all(node: _Node, batch_id: str, total: int) -> None:
    """A worker loop: claim and finish every queued item through the store (a small PNG
    each), the batch polled over HTTP every 0.2 s meanwhile, as a client would."""
    from editserve.blobs import open_storage
    from editserve.store import open_store
    from editserve.store.rows import WorkerRow

    store, storage = open_store(node.settings, worker=True), open_storage(node.settings)
    output = tiny_model_png()
    now = time.time()
    store.upsert_worker(WorkerRow("bench-worker", "localhost", 1, "cpu", "ready", now, now))
    polled = time.monotonic()
    try:
        for _ in range(total):
            gen = store.claim("bench-worker", [tiny_model.MODEL], lease_seconds=60.0,
                              max_attempts=3)  # fmt: skip
            if gen is None:
                break
            key = f"outputs/{gen.id}.png"
            storage.put(key, output, "image/png")
            store.finish(gen, "bench-worker", Status.SUCCEEDED, result_key=key)
            if time.monotonic() - polled > 0.2:
                node.http.get(f"/api/ai/batches/{batch_id}").raise_for_status()
                polled = time.monotonic()
    finally:
        store.close()
    assert node.http.get(f"/api/ai/batches/{batch_id}").json()["status"] == "completed"


def _stream(node: _Node, batch_id: str) -> list[int]:
    sizes = []
    for path in ("results", "zip"):
        size = 0
        with node.http.stream("GET", f"/api/ai/batches/{batch_id}/{path}") as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                size += len(chunk)
        sizes.append(size)
    return sizes


def _peak_while(node: _Node, work: Callable[[], Any]) -> int:
    """The highest RSS of the API node, sampled every 50 ms while ``work`` runs."""
    peak = [node.rss()]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], node.rss())
            done.wait(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        work()
    finally:
        done.set()
        thread.join()
    return max(peak[0], node.rss())


def tiny_model_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), (200, 40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


@contextlib.contextmanager
def _tempdir() -> Iterator[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        yield folder


@contextlib.contextmanager
def _api_node(folder: Path, database_url: str | None) -> Iterator[_Node]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**tiny_model.tiny_env(folder / "server", 64 * 64), "EDITSERVE_PORT": str(port),
           "EDITSERVE_MAX_BATCH_ITEMS_PER_KEY": "1000000"}  # fmt: skip
    if database_url:
        env["EDITSERVE_DATABASE_URL"] = database_url
    log = folder / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "editserve", "serve", "--workers", "0"],
            env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    key_file = folder / "server" / "api_key"
    try:
        _wait_ready(process, f"http://127.0.0.1:{port}", key_file, log)
        yield _Node(process, f"http://127.0.0.1:{port}", key_file.read_text().strip(), env)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(process: subprocess.Popen[bytes], base: str, key_file: Path, log: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API node exited:\n{log.read_text(errors='replace')[-3000:]}")
        if key_file.exists():
            try:
                headers = {"Authorization": f"Bearer {key_file.read_text().strip()}"}
                if httpx.get(f"{base}/api/ai/models", headers=headers, timeout=2).is_success:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"the API node did not start:\n{log.read_text(errors='replace')[-3000:]}")
