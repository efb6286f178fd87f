"""Fair sharing through a real `editserve serve` (one worker, tiny weights): key A queues
a backlog of 60 jobs, then key B queues 5; B's jobs are not held behind A's backlog (each
starts after at most two of A's jobs that were waiting when B came). Then every finished
generation has its worker seconds (its view's usage, as the store holds them), and
GET /api/ai/usage adds them up.

The generation views give started_at in whole seconds, so the order is read from the
server's store (its SQLite file).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.support import LiveServer, make_png, start_server, stop_server

from editserve.domain.record import Generation
from editserve.store.sqlite import SqliteStore

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

BACKLOG = 60
NEWCOMER = 5


@pytest.fixture
def server(tmp_path: Path, tiny_weights: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "data", EDITSERVE_WORKERS="1")
    try:
        yield live
    finally:
        stop_server(live.process)


def body() -> dict[str, Any]:
    image = "data:image/png;base64," + base64.b64encode(make_png(32, 32)).decode()
    return {
        "model": "qwen-image-edit-plus",
        "prompt": "p",
        "input_image": image,
        "num_inference_steps": 1,
    }


def new_key(live: LiveServer, name: str, **fields: Any) -> str:
    made = httpx.post(
        f"{live.base_url}/api/admin/keys",
        json={"name": name, **fields},
        headers=live.headers,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["key"])


def enqueue(http: httpx.Client, n: int) -> list[str]:
    """n enqueue requests of one generation each."""
    ids = []
    for _ in range(n):
        response = http.post("/api/ai/queue", json=body())
        assert response.status_code == 200, response.text
        ids.append(response.json()["generations"][0]["generation_id"])
    return ids


def wait_done(store: SqliteStore, ids: list[str], timeout: float = 400) -> list[Generation]:
    deadline = time.monotonic() + timeout
    while True:
        gens = [store.get_generation(gen_id) for gen_id in ids]
        if all(gen is not None and gen.status.is_terminal for gen in gens):
            return [gen for gen in gens if gen is not None]
        assert time.monotonic() < deadline, "the jobs did not finish in time"
        time.sleep(0.5)


def test_a_newcomer_is_served_beside_a_backlog_and_usage_adds_up(server: LiveServer) -> None:
    key_a = new_key(server, "backlog", max_running=BACKLOG + 20)
    key_b = new_key(server, "newcomer")
    store = SqliteStore(server.data_dir / "editserve.db")
    try:
        with (
            httpx.Client(base_url=server.base_url, headers=_auth(key_a), timeout=60) as http_a,
            httpx.Client(base_url=server.base_url, headers=_auth(key_b), timeout=60) as http_b,
        ):
            a_ids = enqueue(http_a, BACKLOG)
            b_ids = enqueue(http_b, NEWCOMER)
            gens = {gen.id: gen for gen in wait_done(store, a_ids + b_ids)}
            views = {gen_id: _view(http_a, gen_id) for gen_id in a_ids}
            views.update({gen_id: _view(http_b, gen_id) for gen_id in b_ids})
            usage_a = http_a.get("/api/ai/usage").json()
            usage_b = http_b.get("/api/ai/usage").json()
    finally:
        store.close()

    a_gens = [gens[gen_id] for gen_id in a_ids]
    b_gens = sorted((gens[gen_id] for gen_id in b_ids), key=_started)
    assert {gen.status.value for gen in gens.values()} == {"succeeded"}
    came = min(gen.enqueued_at for gen in b_gens)  # B's first enqueue
    waiting = sorted(_started(gen) for gen in a_gens if _started(gen) > came)
    assert len(waiting) >= 2 * NEWCOMER, "A's backlog was gone before B came: no test"
    before_each, since = [], came
    for gen in b_gens:  # A's jobs that started since B's job before (or B's enqueue)
        before_each.append(sum(1 for t in waiting if since < t < _started(gen)))
        since = _started(gen)
    assert max(before_each) <= 2, before_each
    assert sum(1 for t in waiting if t < _started(b_gens[-1])) < len(waiting)  # B is done first

    for gen in gens.values():
        assert gen.gpu_seconds is not None and gen.gpu_seconds > 0, gen.id
        assert gen.output_megapixels is not None and gen.output_megapixels > 0
        shown = views[gen.id]["usage"]
        assert shown == {"gpu_seconds": gen.gpu_seconds, "output_megapixels": gen.output_megapixels}
    for usage, mine in ((usage_a, a_ids), (usage_b, b_ids)):
        total = usage["total"]
        assert total["generations"] == total["succeeded"] == len(mine)
        expected = sum(views[gen_id]["usage"]["gpu_seconds"] for gen_id in mine)
        assert total["gpu_seconds"] == pytest.approx(expected, abs=0.001 * len(mine))
        pixels = sum(views[gen_id]["usage"]["output_megapixels"] for gen_id in mine)
        assert total["output_megapixels"] == pytest.approx(pixels, rel=1e-6)


def _view(http: httpx.Client, gen_id: str) -> dict[str, Any]:
    response = http.get(f"/api/ai/queue/{gen_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _started(gen: Generation) -> float:
    assert gen.started_at is not None
    return gen.started_at


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
