"""`editserve edit / queue / models` as a user runs them, against a real server process."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fixtures.support import make_png

from editserve.client import Client

pytestmark = pytest.mark.slow


def cli_env(live_server: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDITSERVE_", "OXEN_"))}
    env.update(EDITSERVE_URL=live_server.base_url, EDITSERVE_API_KEY=live_server.api_key)
    env.update(extra)
    return env


def editserve(live_server: Any, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "editserve", *args],
        env=cli_env(live_server, **env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "cat.png"
    path.write_bytes(make_png(48, 32))
    return path


def test_edit_with_progress(live_server: Any, image: Path, tmp_path: Path) -> None:
    out = editserve(live_server, "edit", "cat.png", "-p", "Add a hat", "--steps", "3", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    saved = tmp_path / "cat-edited.png"
    assert out.stdout.strip() == str(saved) and saved.read_bytes()[:4] == b"\x89PNG"
    assert "denoising 1/3" in out.stderr and "decoding 3/3" in out.stderr
    assert "succeeded" in out.stderr and "Saved" in out.stderr


def test_edit_json_for_scripts(live_server: Any, image: Path, tmp_path: Path) -> None:
    out = editserve(
        live_server,
        "edit",
        str(image),
        "-p",
        "hat",
        "--steps",
        "2",
        "--seed",
        "9",
        "--format",
        "webp",
        "-o",
        "out/",
        "--json",
        "-q",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["status"] == "succeeded" and body["seed"] == 9
    assert Path(body["output_path"]) == Path("out/cat-edited.webp")
    assert (tmp_path / "out" / "cat-edited.webp").read_bytes()[8:12] == b"WEBP"
    assert out.stderr == ""


def test_ctrl_c_cancels_the_generation_on_the_server(
    live_server: Any, image: Path, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "editserve", "edit", str(image), "-p", "slow", "--steps", "100"],
        env=cli_env(live_server),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    first_line = process.stderr.readline()  # "generation <id> submitted"
    generation_id = first_line.split()[1]
    deadline = time.monotonic() + 120
    while "denoising" not in process.stderr.readline():
        assert time.monotonic() < deadline and process.poll() is None
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=60)
    assert process.returncode == 130, rest
    assert f"cancelling generation {generation_id}" in rest
    with Client(live_server.base_url, live_server.api_key) as client:
        final = client.queue.get(generation_id)
    assert final.status == "cancelled"
    assert final.progress is not None and final.progress.step < 100
    assert not (tmp_path / "cat-edited.png").exists()


def test_queue_and_models_commands(live_server: Any, image: Path, tmp_path: Path) -> None:
    # A long batch ahead of it keeps the CLI's generation queued while the CLI cancels it.
    with live_server.client() as client:
        uri = "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode()
        blockers = client.post(
            "/api/ai/queue",
            json={
                "model": "qwen-image-edit-plus",
                "prompt": "blocker",
                "input_image": uri,
                "num_generations": 4,
                "num_inference_steps": 100,
            },
        ).json()["generations"]
    submitted = editserve(
        live_server, "edit", str(image), "-p", "later", "--steps", "100", "--no-wait", cwd=tmp_path
    )
    assert submitted.returncode == 0, submitted.stderr
    generation_id = submitted.stdout.strip()
    shown = editserve(live_server, "queue", "get", generation_id, "--json", cwd=tmp_path)
    assert json.loads(shown.stdout)["generation_id"] == generation_id
    cancelled = editserve(live_server, "queue", "cancel", generation_id, "--wait", cwd=tmp_path)
    assert cancelled.returncode == 0 and f"{generation_id} cancelled" in cancelled.stdout
    listed = editserve(live_server, "queue", "list", "--status", "cancelled", cwd=tmp_path)
    assert generation_id in listed.stdout
    with live_server.client() as client:
        for blocker in blockers:
            client.delete(f"/api/ai/queue/{blocker['generation_id']}")

    models = editserve(live_server, "models", cwd=tmp_path)
    assert models.returncode == 0 and "qwen-image-edit-plus" in models.stdout
    one = editserve(live_server, "models", "Qwen/Qwen-Image-Edit-2509", "--json", cwd=tmp_path)
    assert json.loads(one.stdout)["display_name"] == "Qwen Image Edit - 2509"


def test_exit_codes(live_server: Any, image: Path, tmp_path: Path) -> None:
    assert editserve(live_server, "edit", "missing.png", "-p", "x", cwd=tmp_path).returncode == 2
    assert editserve(live_server, "queue", "get", "nope", cwd=tmp_path).returncode == 3
    bad_key = editserve(live_server, "models", cwd=tmp_path, EDITSERVE_API_KEY="es_wrong")
    assert bad_key.returncode == 3 and "unauthenticated" in bad_key.stderr
    refused = editserve(live_server, "models", cwd=tmp_path, EDITSERVE_URL="http://127.0.0.1:9")
    assert refused.returncode == 5 and "cannot reach the server" in refused.stderr
