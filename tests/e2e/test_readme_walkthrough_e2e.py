"""The README walked in order, as a newcomer does on a fresh clone: `./dev serve` in a
fresh folder, each shell block, the CLI, the Python client, the OpenAI SDK, keys, a local
image server and a webhook receiver refused until the refusal's own advice is followed,
then a restart with the same key and history, and the receiver verifying its first
delivery with the saved secret. Blocks run as written; the only change is the port (the
README's 8000 and 8080 become free ones)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fixtures.support import TINY_CACHE, free_port, stop_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
BLOCK = re.compile(r"<!-- readme-test: ([\w-]+) -->\n```(bash|python)\n(.*?)```", re.S)

# Every tested block of the README, in the README's order: a new one must be walked here.
WALKED = [
    *("setup", "sync", "poll", "sse"),
    *("cli-env", "cli-1", "cli-2", "cli-3"),
    *(f"client-{n}" for n in range(1, 6)),
    *("openai-1", "webhook-receiver", "webhook-try", "keys"),
]


@functools.cache
def readme_blocks() -> dict[str, str]:
    return {name: code for name, _, code in BLOCK.findall(README.read_text())}


class Newcomer:
    """A fresh folder laid out like a clone (dev, pyproject.toml, examples/, the venv) and
    the server `./dev serve` starts there, with the README's shell state between blocks."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.hook_port = free_port()
        self.server: subprocess.Popen[bytes] | None = None
        for name in ("dev", "pyproject.toml"):
            shutil.copy2(REPO / name, home / name)  # keeps the install stamp newer
        shutil.copytree(REPO / "examples", home / "examples")
        (home / ".venv").symlink_to(sys.prefix)  # the venv this test runs in

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def as_pasted(self, name: str) -> str:
        code = readme_blocks()[name]
        code = code.replace("http://127.0.0.1:8000", self.url)
        return code.replace("127.0.0.1:8080", f"127.0.0.1:{self.hook_port}")

    def env(self) -> dict[str, str]:
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.home),
            "PORT": str(self.hook_port),
            "EDITSERVE_TINY_WEIGHTS_DIR": str(TINY_CACHE),
        }

    def serve(self, *flags: str) -> None:
        """`./dev serve` as the README says, on tiny images so the walk stays quick."""
        env = {
            **self.env(),
            "EDITSERVE_MODEL_WEIGHTS": "tiny",
            "EDITSERVE_OUTPUT_AREA": str(64 * 64),
            "EDITSERVE_PREVIEW_AREA": str(32 * 32),
            "EDITSERVE_TORCH_THREADS": "1",
            "EDITSERVE_PROGRESS_INTERVAL_SECONDS": "0",
        }
        log = open(self.home / "serve.log", "ab")  # noqa: SIM115 - lives with the process
        self.server = subprocess.Popen(
            [str(self.home / "dev"), "serve", "--port", str(self.port), *flags],
            cwd=self.home,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert self.server.poll() is None, (self.home / "serve.log").read_text()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError((self.home / "serve.log").read_text())

    def stop(self) -> None:
        if self.server is not None:
            stop_server(self.server)

    def shell(self, *names: str, extra: str = "") -> subprocess.CompletedProcess[str]:
        script = "\n".join([*(self.as_pasted(name) for name in names), extra])
        return subprocess.run(
            ["bash", "-c", script],
            cwd=self.home,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
        )

    def ok(self, *names: str, extra: str = "") -> str:
        done = self.shell(*names, extra=extra)
        assert done.returncode == 0, (names, done.stdout, done.stderr)
        return done.stdout

    def python(self, name: str) -> None:
        key = (self.home / "editserve-data" / "api_key").read_text().strip()
        env = {**self.env(), "EDITSERVE_URL": self.url, "EDITSERVE_API_KEY": key}
        env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
        done = subprocess.run(
            [sys.executable, "-c", self.as_pasted(name)],
            cwd=self.home,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, (name, done.stderr)

    def background(self, *names: str, log: Path) -> subprocess.Popen[bytes]:
        script = "\n".join(self.as_pasted(name) for name in names)
        return subprocess.Popen(
            ["bash", "-c", script],
            cwd=self.home,
            env=self.env(),
            stdout=open(log, "wb"),  # noqa: SIM115 - lives with the process
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture
def newcomer(tmp_path: Path, tiny_weights: Path) -> Iterator[Newcomer]:
    person = Newcomer(tmp_path)
    try:
        yield person
    finally:
        person.stop()


@pytest.fixture
def local_image_server(tmp_path: Path) -> Iterator[str]:
    """What everyone tries first: `python -m http.server` in the examples folder."""
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "examples")
    )
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cat.png"
    server.shutdown()


def test_the_readme_tests_every_block_it_marks() -> None:
    assert list(readme_blocks()) == WALKED


def test_a_newcomer_walks_the_readme_from_top_to_bottom(
    newcomer: Newcomer, local_image_server: str
) -> None:
    home = newcomer.home
    newcomer.serve()
    data = home / "editserve-data"
    key = (data / "api_key").read_text().strip()
    for saved in ("api_key", "webhook_secret"):
        assert (data / saved).stat().st_mode & 0o777 == 0o600

    # Calling it: the setup block uploads the sample picture; each block after it runs in
    # the shell that block left (the exports), as in a terminal.
    image_url = newcomer.ok("setup").strip()
    assert image_url.startswith(f"{newcomer.url}/api/ai/uploads/upl_")
    body = json.loads(newcomer.ok("setup", "sync").split("\n", 1)[1])
    assert httpx.get(body["images"][0]["url"]).status_code == 200
    polled = newcomer.ok("setup", "poll").splitlines()
    assert "status: succeeded" in polled and httpx.get(polled[-1]).status_code == 200
    event = json.loads(newcomer.ok("setup", "sse").splitlines()[-1].removeprefix("data: "))
    assert event["status"] == "succeeded"

    # A picture on a local web server is refused; the refusal says how to allow it, and the
    # snippet stops there with that message instead of polling forever.
    refused = newcomer.shell(
        "setup", extra=f"IMAGE_URL={local_image_server}\n{newcomer.as_pasted('poll')}"
    )
    assert "status:" not in refused.stdout
    assert "--fetch-allow-hosts 127.0.0.1" in refused.stderr, refused.stderr

    # The CLI, with the key the server saved.
    newcomer.ok("cli-env", "cli-1")
    assert (home / "cat-hat.png").read_bytes().startswith(b"\x89PNG")
    newcomer.ok("cli-env", "cli-2")
    assert [p.suffix for p in (home / "out").iterdir()] == [".webp"]
    listed = newcomer.ok("cli-env", "cli-3")
    assert json.loads((home / "result.json").read_text())["status"] == "succeeded"
    night = newcomer.ok(extra="cat result.json")  # (the --json result of the first line)
    assert json.loads(night)["prompt"] == "Make it snow"
    assert '"generations": [' in listed  # the last line: queue list --json

    # The Python client and the OpenAI SDK.
    for name in [*(f"client-{n}" for n in range(1, 6)), "openai-1"]:
        newcomer.python(name)
    for saved in ("cat-hat.png", "purple.png", "cat-snow.png", "sofa.png"):
        assert (home / saved).stat().st_size > 0, saved

    # Keys, from the same folder: they find the server's database.
    keys = newcomer.ok("keys")
    assert "alice" in keys and "revoked" in newcomer.ok(extra=".venv/bin/editserve keys list")

    # A webhook receiver on this machine: refused until the server allows loopback...
    (home / "hook.py").write_text(readme_blocks()["webhook-receiver"])
    refused_log = home / "hook-refused.log"
    first_try = newcomer.background("cli-env", "setup", "webhook-try", log=refused_log)
    try:
        assert first_try.wait(timeout=120) != 0
    finally:
        with contextlib.suppress(ProcessLookupError):  # the block's `python hook.py &`
            os.killpg(first_try.pid, signal.SIGKILL)
    assert "--fetch-allow-hosts 127.0.0.1" in refused_log.read_text(), refused_log.read_text()

    # ...so restart it as the message says: the same key and history are there.
    history = httpx.get(
        f"{newcomer.url}/api/ai/generations", headers={"Authorization": f"Bearer {key}"}
    ).json()
    newcomer.stop()
    newcomer.serve("--fetch-allow-hosts", "127.0.0.1")
    assert (data / "api_key").read_text().strip() == key
    again = httpx.get(
        f"{newcomer.url}/api/ai/generations", headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert again["total_entries"] == history["total_entries"] > 10
    assert httpx.get(image_url, headers={"Authorization": f"Bearer {key}"}).status_code == 200

    # The receiver verifies its first delivery with the saved secret: no log read.
    hook_log = home / "hook.log"
    hook = newcomer.background("cli-env", "setup", "webhook-try", log=hook_log)
    try:
        gen_id = _wait_for(hook_log, r"^([0-9a-f-]{36})$")
        _wait_for(hook_log, rf"^generation\.completed {gen_id} succeeded$")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(hook.pid, signal.SIGKILL)

    # And the local image server is now usable too.
    polled = newcomer.ok(
        "setup", extra=f"IMAGE_URL={local_image_server}\n{newcomer.as_pasted('poll')}"
    ).splitlines()
    assert "status: succeeded" in polled


def _wait_for(log: Path, pattern: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(), re.M)
        if found:
            return found.group(1) if found.groups() else found.group(0)
        time.sleep(0.3)
    raise AssertionError(f"{pattern!r} not in {log.read_text()}")
