"""The README's shell calls (the hosted API's documented calls, host and key changed)
run verbatim against a real server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fixtures.support import LiveServer, make_png

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_snippet(name: str) -> str:
    text = README.read_text()
    match = re.search(rf"<!-- readme-test: {name} -->\n```bash\n(.*?)```", text, re.S)
    assert match, f"README has no snippet {name!r}"
    return match.group(1)


class _Images(BaseHTTPRequestHandler):
    png = make_png(80, 60, (250, 200, 0))

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.png)))
        self.end_headers()
        self.wfile.write(self.png)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def image_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/bloxy_white_bg.png"
    server.shutdown()


def run_raw(
    snippet: str, server: LiveServer, image_url: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "EDITSERVE_URL": server.base_url,
        "EDITSERVE_API_KEY": server.api_key,
        "IMAGE_URL": image_url,
    }
    return subprocess.run(
        ["bash", "-c", snippet], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def run(snippet: str, server: LiveServer, image_url: str, cwd: Path) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "EDITSERVE_URL": server.base_url,
        "EDITSERVE_API_KEY": server.api_key,
        "IMAGE_URL": image_url,
    }
    done = subprocess.run(
        ["bash", "-c", snippet], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_sync_call(live_server: LiveServer, image_url: str, tmp_path: Path) -> None:
    body = json.loads(run(readme_snippet("sync"), live_server, image_url, tmp_path))
    assert body["model"] == "qwen-image-edit-plus"
    assert httpx.get(body["images"][0]["url"]).status_code == 200


def test_poll_loop(live_server: LiveServer, image_url: str, tmp_path: Path) -> None:
    out = run(readme_snippet("poll"), live_server, image_url, tmp_path).splitlines()
    assert "status: succeeded" in out
    assert httpx.get(out[-1]).status_code == 200


def test_sse_awk(live_server: LiveServer, image_url: str, tmp_path: Path) -> None:
    out = run(readme_snippet("sse"), live_server, image_url, tmp_path).strip()
    assert out.startswith('data: {"generation_id":"')
    event = json.loads(out.removeprefix("data: "))
    assert event["status"] == "succeeded"
    assert httpx.get(event["url"]).status_code == 200


def test_upload_call(live_server: LiveServer, image_url: str, tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(make_png(50, 50))
    out = run(readme_snippet("upload"), live_server, image_url, tmp_path).strip()
    assert out.startswith(f"{live_server.base_url}/api/ai/uploads/upl_")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["poll", "sse", "upload"])
def test_a_failing_step_stops_and_shows_the_servers_error(
    live_server: LiveServer, tmp_path: Path, name: str
) -> None:
    """An enqueue the server refuses (nothing answers at that image URL) stops the snippet
    with the server's own message: no endless polling, no silent wait for an event."""
    (tmp_path / "photo.png").write_text("not an image")  # the upload's own failure
    done = run_raw(readme_snippet(name), live_server, "http://127.0.0.1:9/none.png", tmp_path)
    assert "status:" not in done.stdout  # never polled a generation that does not exist
    assert "data:" not in done.stdout
    words = "input_image" if name != "upload" else "file"
    assert words in done.stderr, (done.stdout, done.stderr)


@pytest.mark.parametrize("name", [*(f"client-{n}" for n in range(1, 6)), "openai-1"])
def test_client_examples_run_verbatim(live_server: LiveServer, tmp_path: Path, name: str) -> None:
    text = README.read_text()
    match = re.search(rf"<!-- readme-test: {name} -->\n```python\n(.*?)```", text, re.S)
    assert match, f"README has no python snippet {name!r}"
    (tmp_path / "cat.png").write_bytes(make_png(64, 48, (200, 120, 40)))
    (tmp_path / "dog.png").write_bytes(make_png(48, 64, (90, 90, 90)))
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "EDITSERVE_URL": live_server.base_url,
        "EDITSERVE_API_KEY": live_server.api_key,
    }
    done = subprocess.run(
        [sys.executable, "-c", match.group(1)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
