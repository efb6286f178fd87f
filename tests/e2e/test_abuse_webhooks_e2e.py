"""A tar-pit webhook receiver holds up no other key's deliveries, with a real server process.

Key A's receiver accepts each delivery and then answers one byte a second, for ever; key B's
receiver answers at once. B's delivery falls due while A's are stuck in the tar pit, and
lands within one attempt's deadline (EDITSERVE_WEBHOOK_TIMEOUT_SECONDS) all the same; A's
attempts are cut off at that deadline. Deliveries come from generations cancelled while
queued (each is a completed event), so the API runs without workers.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.support import LiveServer, fast_server_env, make_png, start_server, stop_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

DEADLINE = 3.0  # EDITSERVE_WEBHOOK_TIMEOUT_SECONDS


class TarPit:
    """Accepts connections, reads each request, then dribbles an answer one byte a second."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.arrivals: list[float] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._dribble, args=(conn,), daemon=True).start()

    def _dribble(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)  # the request (small: one read)
                self.arrivals.append(time.monotonic())
                for byte in b"HTTP/1.1 200 OK\r\nX-Tar: " + b"p" * 100_000:
                    if self.stopped.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(1.0)
            except OSError:
                return

    def stop(self) -> None:
        self.stopped.set()
        self.sock.close()


class Receiver:
    """Answers 200 at once and notes when each delivery arrived."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.arrivals.append((time.monotonic(), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # by the loopback's name: another host than the tar pit's 127.0.0.1
        self.url = f"http://localhost:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(
        tmp_path / "data",
        wait_ready=False,  # no worker: /readyz stays 503
        EDITSERVE_WORKERS="0",
        EDITSERVE_WEBHOOK_TIMEOUT_SECONDS=str(DEADLINE),
        EDITSERVE_WEBHOOK_POLL_SECONDS="0.2",
    )
    try:
        yield live
    finally:
        stop_server(live.process)


@pytest.fixture
def tarpit() -> Iterator[TarPit]:
    pit = TarPit()
    yield pit
    pit.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.server.shutdown()


def new_key(server: LiveServer) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "editserve", "keys", "create", "--name", "b"],
        env={**os.environ, **fast_server_env(server.data_dir)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout.strip()


def as_key(server: LiveServer, key: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=60)


def enqueue_and_cancel(client: httpx.Client, hook: str, count: int) -> list[str]:
    """``count`` generations with ``hook``, cancelled while queued: a delivery each."""
    image = "data:image/png;base64," + base64.b64encode(make_png(32, 32)).decode()
    body = {"model": "qwen-image-edit-plus", "prompt": "p", "input_image": image}
    queued = client.post("/api/ai/queue", json={**body, "webhook": hook, "num_generations": count})
    assert queued.status_code == 200, queued.text
    ids = [g["generation_id"] for g in queued.json()["generations"]]
    for generation_id in ids:
        assert client.delete(f"/api/ai/queue/{generation_id}").status_code == 200
    return ids


def wait_until(condition: Any, limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not in {limit:g} s"
        time.sleep(0.05)


def test_a_tar_pit_receiver_does_not_delay_another_keys_delivery(
    server: LiveServer, tarpit: TarPit, receiver: Receiver
) -> None:
    key_b = new_key(server)
    with as_key(server, server.api_key) as a, as_key(server, key_b) as b:
        stuck = enqueue_and_cancel(a, tarpit.url, 4) + enqueue_and_cancel(a, tarpit.url, 4)
        wait_until(lambda: len(tarpit.arrivals) >= 4, 30, "A's deliveries in the tar pit")
        first_stuck = tarpit.arrivals[0]

        falls_due = time.monotonic()
        [wanted] = enqueue_and_cancel(b, receiver.url, 1)
        wait_until(lambda: receiver.arrivals, 3 * DEADLINE, "B's delivery")
        landed, payload = receiver.arrivals[0]
        assert payload["data"]["generation_id"] == wanted
        assert landed - falls_due < DEADLINE  # not held up by the tar pit

        def a_attempt_ended() -> bool:
            return bool(a.get(f"/api/ai/queue/{stuck[0]}").json()["webhooks"][0]["attempts"])

        wait_until(a_attempt_ended, 3 * DEADLINE, "the end of A's first attempt")
        ended = time.monotonic()
        [delivery] = a.get(f"/api/ai/queue/{stuck[0]}").json()["webhooks"]
    assert landed < ended  # B's landed while A's first attempts were still in the tar pit
    assert delivery["status"] == "pending" and "DeliveryTimeout" in delivery["last_error"]
    assert ended - first_stuck < 3 * DEADLINE  # cut off at the deadline, not left to dribble
    # webhook_per_owner (4): A never had more than that in the tar pit at once
    assert len([t for t in tarpit.arrivals if t < first_stuck + DEADLINE / 2]) <= 4
