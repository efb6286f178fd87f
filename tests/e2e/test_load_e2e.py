"""A bounded load test on loopback: many clients at once against a real tiny-weights server.

Each round, CLIENTS threads each make SUBMISSIONS successful submissions (one or two
generations each), and around them poll, list, cancel every third, and follow the event
stream (SSE) for their own generations. Answers other than the documented ones fail the
test: 200 (and 409 for a cancel that came after the end), and 429 for a full per-key queue
(EDITSERVE_MAX_QUEUED_PER_KEY is set low so that some do happen; the client waits the
Retry-After, capped, and tries again). Every generation must end in a terminal state.

Memory: after a warm-up round, the resident set (VmRSS in /proc/<pid>/status) of the API
process and of its worker processes must not grow from the end of round 2 to the end of
round 3 by more than GROWTH_TOLERANCE_BYTES: same work, same memory. The tolerance covers
allocator noise (arenas, caches that fill once), not a leak that grows with each request
(a few KiB a request would pass it only at far fewer requests than a round makes).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fixtures.e2e import TERMINAL, edit_body
from fixtures.support import LiveServer, make_png, rss_bytes, start_server, stop_server

pytestmark = pytest.mark.slow

CLIENTS = 8
SUBMISSIONS = 5  # successful submissions per client per round
ROUNDS = 3  # 1: warm-up; then 2 and 3 compared
GROWTH_TOLERANCE_BYTES = 24 * 1024 * 1024
LOAD_ENV = {
    # this test measures leaks under load from one key, not the per-key request rate
    "EDITSERVE_REQUEST_RATE_PER_KEY": "0",
    "EDITSERVE_MAX_QUEUED_PER_KEY": "6",
    "EDITSERVE_LOG_FORMAT": "json",
    "EDITSERVE_SSE_KEEPALIVE_SECONDS": "1",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("load-server"), **LOAD_ENV)
    try:
        yield live
    finally:
        stop_server(live.process)


class Client:
    """One client's work in a round; what it saw goes into `unexpected` and `ids`."""

    def __init__(self, server: LiveServer, index: int, image: str) -> None:
        self.server, self.index, self.image = server, index, image
        self.unexpected: list[str] = []
        self.ids: list[str] = []
        self.rate_limited = 0

    def expect(self, response: httpx.Response, *allowed: int) -> bool:
        if response.status_code not in allowed:
            what = f"{response.request.method} {response.request.url.path}"
            self.unexpected.append(f"{what}: {response.status_code} {response.text[:200]}")
            return False
        if response.status_code >= 400:  # the one error envelope
            assert response.json()["error"]["type"], response.text
        return True

    def submit(self, http: httpx.Client, n: int) -> list[str]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            response = http.post("/api/ai/queue", json=edit_body(self.image, num_generations=n))
            if response.status_code == 429:
                self.rate_limited += 1
                assert response.headers["retry-after"].isdigit()
                assert response.json()["error"]["type"] == "rate_limited"
                time.sleep(min(0.5, float(response.headers["retry-after"])))
                continue
            if not self.expect(response, 200):
                return []
            return [g["generation_id"] for g in response.json()["generations"]]
        self.unexpected.append("POST /api/ai/queue: 429 for a minute")
        return []

    def run(self) -> None:
        with self.server.client() as http:
            for turn in range(SUBMISSIONS):
                ids = self.submit(http, 1 + (self.index + turn) % 2)
                self.ids += ids
                for gen_id in ids:
                    self.expect(http.get(f"/api/ai/queue/{gen_id}"), 200)
                self.expect(http.get("/api/ai/queue"), 200)
                self.expect(http.get("/api/ai/generations", params={"page_size": 5}), 200)
                if ids and (self.index + turn) % 3 == 0:
                    self.expect(http.delete(f"/api/ai/queue/{ids[-1]}"), 200, 409)
                if self.index % 2 == 0:
                    self.follow_events(http, set(ids))
                else:
                    self.poll_until_done(http, ids)

    def poll_until_done(self, http: httpx.Client, ids: list[str]) -> None:
        deadline = time.monotonic() + 120
        pending = list(ids)
        while pending and time.monotonic() < deadline:
            response = http.get(f"/api/ai/queue/{pending[0]}")
            if not self.expect(response, 200):
                return
            if response.json()["status"] in TERMINAL:
                pending.pop(0)
            else:
                time.sleep(0.1)

    def follow_events(self, http: httpx.Client, ids: set[str]) -> None:
        """The SSE stream until each of `ids` has its completion event (which a cancel
        also sends); replayed from the start, so nothing sent before it opened is missed."""
        waiting = set(ids)
        headers = {"Last-Event-ID": "0"}
        with http.stream("GET", "/api/events", headers=headers, timeout=120) as stream:
            if not self.expect(stream, 200):
                return
            for line in stream.iter_lines():
                if not waiting:
                    break
                if line.startswith("data: "):
                    data = json.loads(line[6:])
                    if data.get("status") in TERMINAL:
                        waiting.discard(data.get("generation_id"))


def run_round(server: LiveServer, image: str) -> list[Client]:
    clients = [Client(server, index, image) for index in range(CLIENTS)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        for future in [pool.submit(client.run) for client in clients]:
            future.result(timeout=150)
    return clients


def process_rss(server: LiveServer) -> tuple[int, int]:
    workers = server.worker_pids()
    assert workers, "no worker process"
    return rss_bytes(server.process.pid), sum(rss_bytes(pid) for pid in workers)


def test_many_clients_at_once_lose_nothing_and_memory_holds(server: LiveServer) -> None:
    image = "data:image/png;base64," + base64.b64encode(make_png()).decode()
    memory: list[tuple[int, int]] = []
    workers_before = server.worker_pids()
    rate_limited = 0
    for _ in range(ROUNDS):
        clients = run_round(server, image)
        assert [u for c in clients for u in c.unexpected] == []
        ids = [gen_id for c in clients for gen_id in c.ids]
        assert len(ids) >= CLIENTS * SUBMISSIONS
        with server.client() as http:
            statuses = {http.get(f"/api/ai/queue/{gen_id}").json()["status"] for gen_id in ids}
        assert statuses <= TERMINAL, statuses
        assert "succeeded" in statuses, statuses
        rate_limited += sum(c.rate_limited for c in clients)
        memory.append(process_rss(server))
    # nothing crashed under load: the same worker processes, the server alive
    assert server.worker_pids() == workers_before and server.process.poll() is None
    (api_2, worker_2), (api_3, worker_3) = memory[1], memory[2]
    report = f"RSS by round (api, workers): {memory}; 429s: {rate_limited}"
    assert api_3 - api_2 <= GROWTH_TOLERANCE_BYTES, report
    assert worker_3 - worker_2 <= GROWTH_TOLERANCE_BYTES, report
    print(report)
    # the JSON log: the worker's lines of a run carry generation, worker and stage
    lines = [line for line in server.log().splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in lines]
    assert any({"generation_id", "worker_id", "stage"} <= entry.keys() for entry in entries), lines[
        -20:
    ]
