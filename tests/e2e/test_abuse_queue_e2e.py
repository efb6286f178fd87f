"""The per-key queue limit holds under a burst, with a real server process: 150 enqueues of
one key at once against EDITSERVE_MAX_QUEUED_PER_KEY=3 leave 3 queued, not 450 (the count
and the insert were separate transactions), and a request of several generations counts
them all. On SQLite and on PostgreSQL; the API runs without workers, so nothing leaves the
queue while the test counts it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fixtures.postgres import fresh_database, require_postgres
from fixtures.support import LiveServer, fast_server_env, make_png, start_server, stop_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

LIMIT = 3
BURST = 150


@dataclass
class Node:
    live: LiveServer
    env: dict[str, str]  # what the server was started with beyond fast_server_env's

    def new_key(self) -> str:
        """Another key in the server's store (its data dir, or its database)."""
        done = subprocess.run(
            [sys.executable, "-m", "editserve", "keys", "create", "--name", "burst"],
            env={**os.environ, **fast_server_env(self.live.data_dir), **self.env},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return done.stdout.strip()


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Node]:
    with ExitStack() as stack:
        env = {"EDITSERVE_WORKERS": "0", "EDITSERVE_MAX_QUEUED_PER_KEY": str(LIMIT)}
        if request.param == "postgres":
            require_postgres()
            env["EDITSERVE_DATABASE_URL"] = stack.enter_context(fresh_database())
        live = start_server(tmp_path / "data", wait_ready=False, **env)  # no worker: 503
        try:
            yield Node(live, env)
        finally:
            stop_server(live.process)


def body(**extra: object) -> dict[str, object]:
    image = "data:image/png;base64," + base64.b64encode(make_png(32, 32)).decode()
    return {"model": "qwen-image-edit-plus", "prompt": "p", "input_image": image, **extra}


async def burst(server: LiveServer, key: str, payload: dict[str, object]) -> list[httpx.Response]:
    """BURST enqueues of one key, all at once (one connection each)."""
    limits = httpx.Limits(max_connections=BURST, max_keepalive_connections=BURST)
    async with httpx.AsyncClient(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
        limits=limits,
    ) as client:
        return await asyncio.gather(
            *(client.post("/api/ai/queue", json=payload) for _ in range(BURST))
        )


def queued(server: LiveServer, key: str) -> int:
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        listed = client.get("/api/ai/queue")
    assert listed.status_code == 200, listed.text
    return int(listed.json()["count"])


def test_a_burst_of_enqueues_never_goes_over_the_keys_limit(server: Node) -> None:
    key = server.live.api_key
    responses = asyncio.run(burst(server.live, key, body()))
    codes = Counter(response.status_code for response in responses)
    assert codes == {200: LIMIT, 429: BURST - LIMIT}, codes
    assert queued(server.live, key) == LIMIT
    refused = next(response for response in responses if response.status_code == 429)
    assert refused.headers["retry-after"] == "10"
    detail = refused.json()["error"]["detail"]
    assert detail.startswith("quota max_running: this key already has")
    assert f"(limit {LIMIT}: the server's default" in detail


def test_every_generation_of_a_request_counts_under_a_burst(server: Node) -> None:
    key = server.new_key()
    responses = asyncio.run(burst(server.live, key, body(num_generations=2)))
    codes = Counter(response.status_code for response in responses)
    assert codes == {200: 1, 429: BURST - 1}, codes  # 2 fit under 3; 4 would not
    assert queued(server.live, key) == 2
