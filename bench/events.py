"""Events to many SSE subscribers: the event hub against per-subscriber polling.

An API server runs in its own process (bench/sse_server.py, SQLite store); N clients hold
``GET /api/events`` open on one key (raw sockets, so the client costs little); this
process finishes generations in the store (as a worker would) a few times, and each
client timestamps the completion event when it arrives. Measured: delivery latency (p50,
p99 over every subscriber and event), the server's store statements per second and CPU
seconds per delivered event, and the server's memory per subscriber. The baseline is the
SSE loop editserve had before the hub (every subscriber polls the store), served by the
same server at /bench/legacy-events, measured in the same run.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import Row, percentile
from bench.stores import MODEL, new_gen
from editserve.domain.record import Status
from editserve.services.keys import create_key
from editserve.store.sqlite import SqliteStore

SECTION = "events"
PATHS = {"hub": "/api/events", "legacy": "/bench/legacy-events"}
REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _subscriber(port: int, path: str, key: str, seen: dict[tuple[str, int], float],
                      ready: asyncio.Event, count: list[int], want: int) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    count[0] += 1
    if count[0] == want:
        ready.set()
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b"data:") and b'"succeeded"' in line:
                payload = json.loads(line[5:])
                seen[(payload["generation_id"], id(reader))] = time.perf_counter()
    finally:
        writer.close()


def _stats(client: httpx.Client) -> dict[str, Any]:
    return dict(client.get("/bench/stats").json())


async def _round(port: int, path: str, key: str, store: SqliteStore, owner: str,
                 subscribers: int, events: int,
                 client: httpx.Client) -> dict[str, float]:  # fmt: skip
    seen: dict[tuple[str, int], float] = {}
    ready, count = asyncio.Event(), [0]
    before = _stats(client)
    tasks = [
        asyncio.create_task(_subscriber(port, path, key, seen, ready, count, subscribers))
        for _ in range(subscribers)
    ]
    await asyncio.wait_for(ready.wait(), 120)
    if path == "/api/events":  # headers go out before the stream subscribes: wait for it
        while _stats(client)["subscribers"] < subscribers:
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    opened = _stats(client)
    started = time.perf_counter()
    sent: dict[str, float] = {}
    for _ in range(events):
        gen = new_gen(owner)
        store.insert_generations([gen])
        claimed = store.claim("bench-worker", [MODEL], 300, 3)
        assert claimed is not None
        store.finish(claimed, "bench-worker", Status.SUCCEEDED, result_key="outputs/x.png")
        sent[gen.id] = time.perf_counter()
        await asyncio.sleep(0.3)
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline:
        if len(seen) >= subscribers * events:
            break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    after = _stats(client)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [t - sent[gen_id] for (gen_id, _), t in seen.items()]
    delivered = len(latencies)
    return {
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "delivered": delivered / max(1, subscribers * events),
        "statements_per_s": (after["statements"] - opened["statements"]) / elapsed,
        "cpu_per_event": (after["cpu"] - opened["cpu"]) / max(1, delivered),
        "bytes_per_subscriber": (opened["rss"] - before["rss"]) / subscribers,
    }


def measure(path: str, subscribers: int, events: int) -> dict[str, float]:
    """One fresh server, ``subscribers`` streams on ``path``, ``events`` completions."""
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        store = SqliteStore(data / "editserve.db")
        key = create_key(store, "bench")
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.sse_server", str(data), str(port)], cwd=REPO
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                _wait_up(client)
                return asyncio.run(
                    _round(port, path, key.secret, store, key.row.id, subscribers, events, client)
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
            store.close()


def _wait_up(client: httpx.Client) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if client.get("/bench/stats").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the benchmark server did not start")


def run(counts: list[int], events: int) -> list[Row]:
    rows: list[Row] = []
    results = {
        n: {label: measure(path, n, events) for label, path in PATHS.items()} for n in counts
    }
    small, big = counts[0], counts[-1]
    for n in counts:
        hub, legacy = results[n]["hub"], results[n]["legacy"]
        note = f"delivered {hub['delivered']:.0%} (legacy {legacy['delivered']:.0%})"
        rows.append(
            Row(
                SECTION, f"delivery p50, {n} subscribers", hub["p50"], legacy["p50"], "s", note=note
            )
        )
        rows.append(Row(SECTION, f"delivery p99, {n} subscribers", hub["p99"], legacy["p99"], "s",
                        note="goal: p99 < 100 ms at 1,000" if n == big else ""))  # fmt: skip
        rows.append(Row(SECTION, f"store statements/s, {n} subscribers", hub["statements_per_s"],
                        legacy["statements_per_s"], "/s"))  # fmt: skip
        rows.append(Row(SECTION, f"server CPU per delivered event, {n} subscribers",
                        hub["cpu_per_event"], legacy["cpu_per_event"], "s"))  # fmt: skip
    rows.append(Row(SECTION, f"hub: store statements/s, {big} vs {small} subscribers",
                    results[big]["hub"]["statements_per_s"],
                    results[small]["hub"]["statements_per_s"], "/s", goal=0.5,
                    note="flat in subscribers"))  # fmt: skip
    rows.append(Row(SECTION, f"server memory per subscriber ({big})",
                    results[big]["hub"]["bytes_per_subscriber"],
                    results[big]["legacy"]["bytes_per_subscriber"], "B",
                    note="RSS growth / subscribers; baseline: legacy loop"))  # fmt: skip
    return rows
