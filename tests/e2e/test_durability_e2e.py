"""Crashes, cancellation mid-run, timeouts and limits, on a real server with slower jobs."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fixtures.e2e import edit_body, read_sse, wait_for, wait_for_status
from fixtures.support import LiveServer, make_png, start_server, stop_server

pytestmark = pytest.mark.slow

SLOW_ENV = {
    "EDITSERVE_OUTPUT_AREA": str(256 * 256),  # each step takes long enough to act mid-run
    "EDITSERVE_MAX_ATTEMPTS": "2",
    "EDITSERVE_SYNC_TIMEOUT_SECONDS": "0.3",
    "EDITSERVE_MAX_QUEUED_PER_KEY": "5",
    "EDITSERVE_MAX_BODY_BYTES": "300000",
    "EDITSERVE_SSE_KEEPALIVE_SECONDS": "1",
}
LONG = 100  # denoising steps of a job we act on while it runs


def uri() -> str:
    return "data:image/png;base64," + base64.b64encode(make_png()).decode()


@pytest.fixture(scope="module")
def slow_server(
    tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path
) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("slow-server"), **SLOW_ENV)
    try:
        yield server
    finally:
        stop_server(server.process)


def running_at_step(client: httpx.Client, gen_id: str, step: int = 2, attempt: int = 1) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = client.get(f"/api/ai/queue/{gen_id}").json()
        if (
            body["status"] == "processing"
            and body["attempts"] >= attempt
            and (body["progress"] or {}).get("step", 0) >= step
        ):
            return body
        assert body["status"] in {"queued", "processing"}, body
        time.sleep(0.05)
    raise AssertionError(f"{gen_id} never reached step {step}")


def kill_worker(server: LiveServer) -> int:
    [pid] = server.worker_pids()
    os.kill(pid, signal.SIGKILL)
    return pid


def test_cancel_while_processing_stops_at_the_next_step(slow_server: LiveServer) -> None:
    with slow_server.client() as client, client.stream("GET", "/api/events") as events:
        gen_id = client.post(
            "/api/ai/queue", json=edit_body(uri(), num_inference_steps=LONG)
        ).json()["generations"][0]["generation_id"]
        running_at_step(client, gen_id)
        response = client.delete(f"/api/ai/queue/{gen_id}")
        assert response.status_code == 200
        assert response.json()["cancel_requested"] is True
        frames = read_sse(
            events,
            lambda fs: any(
                f.get("event") == "media_generation_cancelled"
                and f["data"]["generation_id"] == gen_id
                for f in fs
            ),
        )
        final = wait_for(client, gen_id)
    assert final["status"] == "cancelled"
    assert final["result_url"] is None
    assert final["progress"]["step"] < LONG
    cancelled = [f for f in frames if f.get("event") == "media_generation_cancelled"]
    assert cancelled[-1]["data"]["status"] == "cancelled"


def test_sigkilled_worker_loses_nothing(slow_server: LiveServer) -> None:
    with slow_server.client() as client:
        gen_id = client.post("/api/ai/queue", json=edit_body(uri(), num_inference_steps=12)).json()[
            "generations"
        ][0]["generation_id"]
        running_at_step(client, gen_id)
        killed = kill_worker(slow_server)
        final = wait_for(client, gen_id, timeout=300)
    assert final["status"] == "succeeded", final
    assert final["attempts"] == 2
    assert httpx.get(final["result_url"]).status_code == 200
    assert killed not in slow_server.worker_pids()
    assert "returned to the queue" in slow_server.log()


def test_a_job_that_keeps_killing_workers_fails_after_max_attempts(slow_server: LiveServer) -> None:
    with slow_server.client() as client:
        gen_id = client.post(
            "/api/ai/queue", json=edit_body(uri(), num_inference_steps=LONG)
        ).json()["generations"][0]["generation_id"]
        for attempt in (1, 2):  # EDITSERVE_MAX_ATTEMPTS=2
            running_at_step(client, gen_id, step=1, attempt=attempt)
            kill_worker(slow_server)
        final = wait_for(client, gen_id, timeout=300)
    assert final["status"] == "failed"
    assert "stopped unexpectedly 2 times" in final["error_message"]


def test_sync_edit_times_out_with_504_and_the_generation_finishes(slow_server: LiveServer) -> None:
    with slow_server.client() as client:
        # Enough steps to outlast the 0.3 s limit several times over: the job starts at once
        # (the enqueue wakes the worker), so the run itself must take longer than the limit
        # (100 tiny steps at 256x256 take about 1.4 s on an idle 2-core machine).
        response = client.post(
            "/api/ai/images/edit", json=edit_body(uri(), num_inference_steps=LONG)
        )
        assert response.status_code == 504
        body = response.json()
        assert body["error"]["type"] == "timeout"
        gen_id = body["generation_id"]
        assert f"/api/ai/queue/{gen_id}" in body["error"]["detail"]
        assert wait_for(client, gen_id)["status"] == "succeeded"


def test_per_key_queue_limit_answers_429_with_retry_after(slow_server: LiveServer) -> None:
    with slow_server.client() as client:
        first = client.post(
            "/api/ai/queue", json=edit_body(uri(), num_generations=4, num_inference_steps=LONG)
        )
        assert first.status_code == 200
        second = client.post(
            "/api/ai/queue", json=edit_body(uri(), num_generations=2, num_inference_steps=LONG)
        )
        for gen in first.json()["generations"]:
            client.delete(f"/api/ai/queue/{gen['generation_id']}")
        for gen in first.json()["generations"]:
            wait_for(client, gen["generation_id"])
    assert second.status_code == 429
    assert second.headers["retry-after"].isdigit()
    assert second.json()["error"]["type"] == "rate_limited"
    assert "limit 5" in second.json()["error"]["detail"]


def test_oversized_body_is_413(slow_server: LiveServer) -> None:
    big = "data:image/png;base64," + "A" * 400_000
    with slow_server.client() as client:
        response = client.post("/api/ai/queue", json=edit_body(big))
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "payload_too_large"


def test_sse_keep_alive_comment_when_idle(slow_server: LiveServer) -> None:
    with slow_server.client() as client, client.stream("GET", "/api/events") as stream:
        frames = read_sse(stream, lambda fs: any("comment" in f for f in fs), timeout=10)
    assert frames[-1]["comment"] == ": keep-alive"
    assert frames[-1]["raw"] == [": keep-alive", ""]


def test_whole_server_killed_mid_job_then_restarted_finishes_it(
    tmp_path: Path, tiny_weights: Path
) -> None:
    server = start_server(tmp_path / "data", **SLOW_ENV)
    try:
        with server.client() as client:
            gen_id = client.post(
                "/api/ai/queue", json=edit_body(uri(), num_inference_steps=12)
            ).json()["generations"][0]["generation_id"]
            running_at_step(client, gen_id)
    finally:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
    restarted = start_server(tmp_path / "data", **SLOW_ENV)
    try:
        with restarted.client() as client:
            assert client.get(f"/api/ai/queue/{gen_id}").status_code == 200
            final = wait_for_status(client, gen_id, {"succeeded", "failed"}, timeout=300)
        assert final["status"] == "succeeded", final
        assert final["attempts"] == 2
    finally:
        stop_server(restarted.process)


def test_workers_exit_when_their_server_dies(tmp_path: Path, tiny_weights: Path) -> None:
    server = start_server(tmp_path / "data")
    pattern = f"editserve.worker .*--parent-pid {server.process.pid}"

    def workers() -> list[str]:
        found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
        return found.stdout.split()

    assert workers(), "the server should supervise a worker"
    os.kill(server.process.pid, signal.SIGKILL)  # the API process only, not its group
    server.process.wait()
    deadline = time.monotonic() + 30
    while workers() and time.monotonic() < deadline:
        time.sleep(0.2)
    leftover = workers()
    for pid in leftover:
        os.kill(int(pid), signal.SIGKILL)
    assert not leftover, "a worker outlived its server"
