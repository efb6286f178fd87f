"""Test support shared by every suite: test images, a real server process."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
TINY_CACHE = REPO / ".cache" / "tiny-qwen-image-edit-plus"


def make_png(
    width: int = 48, height: int = 32, color: tuple[int, int, int] = (200, 40, 40)
) -> bytes:
    image = Image.new("RGB", (width, height), color)
    for x in range(width // 2):  # a little structure so images differ
        image.putpixel((x, height // 2), (20, 200, 20))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fast_server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """EDITSERVE_* settings for a quick server on tiny weights and tiny images."""
    env = {
        "EDITSERVE_DATA_DIR": str(data_dir),
        "EDITSERVE_MODEL_WEIGHTS": "tiny",
        "EDITSERVE_TINY_WEIGHTS_DIR": str(TINY_CACHE),
        "EDITSERVE_OUTPUT_AREA": str(64 * 64),
        "EDITSERVE_PREVIEW_AREA": str(32 * 32),
        "EDITSERVE_LEASE_SECONDS": "6",
        "EDITSERVE_FETCH_ALLOW_HOSTS": "127.0.0.1,localhost",
        "EDITSERVE_TORCH_THREADS": "1",
        "EDITSERVE_PROGRESS_INTERVAL_SECONDS": "0",
        "EDITSERVE_LOG_LEVEL": "info",
    }
    env.update(extra)
    return env


@dataclass
class LiveServer:
    base_url: str
    api_key: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=self.headers, timeout=120, **kwargs)  # type: ignore[arg-type]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-f", "-P", str(self.process.pid), "editserve.worker"],
            capture_output=True,
            text=True,
        )
        return [int(pid) for pid in out.stdout.split()]


def start_server(data_dir: Path, *, wait_ready: bool = True, **extra_env: str) -> LiveServer:
    port = free_port()
    env = {**os.environ, **fast_server_env(data_dir, **extra_env), "EDITSERVE_PORT": str(port)}
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [sys.executable, "-m", "editserve", "serve"],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    key_file = data_dir / "api_key"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        try:
            response = httpx.get(f"{base_url}/readyz", timeout=2)
            if key_file.exists() and (response.status_code == 200 or not wait_ready):
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_server(process)
            raise RuntimeError(f"server not ready in time:\n{log_path.read_text()}")
        time.sleep(0.3)
    return LiveServer(base_url, key_file.read_text().strip(), data_dir, process, log_path)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def has_chromium() -> bool:
    return shutil.which("chromium") is not None
