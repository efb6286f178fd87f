"""Webhooks with real processes: the README's receiver gets signed deliveries from a real
server, including one that was pending (its receiver down) when the server was SIGKILLed
and is sent by the restarted server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fixtures.support import free_port, make_png, start_server, stop_server

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"


def receiver_code() -> str:
    match = re.search(
        r"<!-- readme-test: webhook-receiver -->\n```python\n(.*?)```", README.read_text(), re.S
    )
    assert match, "README has no webhook receiver"
    return match.group(1)


class Receiver:
    def __init__(self, secret: str, port: int, log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-c", receiver_code()],
            env={**os.environ, "EDITSERVE_WEBHOOK_SECRET": secret, "PORT": str(port)},
            stdout=open(log, "ab"),  # noqa: SIM115 - lives as long as the process
            stderr=subprocess.STDOUT,
        )

    def lines(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if line.startswith("gen")]

    def wait_for(self, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines() if needle in line]
            if found:
                return found[0]
            time.sleep(0.2)
        raise AssertionError(f"no delivery with {needle!r}: {self.log.read_text()}")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def new_key(data_dir: Path) -> tuple[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "editserve", "keys", "create", "--name", "hooks",
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    secret = re.search(r"(whsec_\S+)", done.stderr)
    assert secret, done.stderr
    return done.stdout.strip(), secret.group(1)


@pytest.fixture
def data_dir(tmp_path: Path, tiny_weights: Path) -> Iterator[Path]:
    yield tmp_path / "data"


def as_key(server, key: str) -> httpx.Client:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=120)


def enqueue(server, key: str, hook: str) -> str:  # type: ignore[no-untyped-def]
    import base64

    image = "data:image/png;base64," + base64.b64encode(make_png(48, 48)).decode()
    with as_key(server, key) as client:
        response = client.post(
            "/api/ai/queue",
            json={
                "model": "qwen-image-edit-plus",
                "prompt": "p",
                "input_image": image,
                "num_inference_steps": 2,
                "webhook": hook,
            },
        )
    assert response.status_code == 200, response.text
    return str(response.json()["generations"][0]["generation_id"])


def test_signed_deliveries_survive_a_killed_server(data_dir: Path, tmp_path: Path) -> None:
    server = start_server(data_dir)
    key, secret = new_key(data_dir)
    port = free_port()
    hook = f"http://127.0.0.1:{port}/hook"
    receiver = Receiver(secret, port, tmp_path / "receiver.log")
    try:
        first = enqueue(server, key, hook)
        assert receiver.wait_for(first).endswith("succeeded")

        receiver.stop()  # the receiver is down: the next delivery fails and waits to retry
        second = enqueue(server, key, hook)
        with as_key(server, key) as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                view = client.get(f"/api/ai/queue/{second}").json()
                if view.get("webhooks") and view["webhooks"][0]["attempts"] >= 1:
                    break
                time.sleep(0.3)
            [delivery] = view["webhooks"]
        assert delivery["status"] == "pending" and delivery["last_error"]
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()

        receiver = Receiver(secret, port, tmp_path / "receiver.log")
        server = start_server(data_dir)
        assert receiver.wait_for(second).endswith("succeeded")
        # each generation once: the restarted server did not resend the first delivery
        assert len([line for line in receiver.lines() if first in line]) == 1
    finally:
        receiver.stop()
        stop_server(server.process)
