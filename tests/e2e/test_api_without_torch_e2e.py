"""An API node installs and runs without the model libraries.

The API image (docker/api.Dockerfile) installs editserve's base dependency set only: no
torch, diffusers or transformers (those are the `gpu` extra). This test proves that set is
enough, outside any container: a clean venv gets `pip install <the package>` from PyPI
(pip's cache is reused), and from it `editserve migrate`, `editserve serve --workers 0`, an
enqueue and the client commands work, while `import torch` fails there and starting worker
processes is refused with the command that installs them.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fixtures.e2e import edit_body
from fixtures.support import REPO, free_port, make_png, stop_server

pytestmark = pytest.mark.slow

MODEL_LIBRARIES = ("torch", "diffusers", "transformers", "torchvision", "accelerate", "peft")


@dataclass
class ApiVenv:
    root: Path

    def bin(self, name: str) -> str:
        return str(self.root / "bin" / name)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without this test run's venv or editserve settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("EDITSERVE_")
        and key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env.update(extra)
    return env


def copy_package_source(dest: Path) -> None:
    """What the API image's build stage copies: pyproject.toml, README.md, src/."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    shutil.copytree(
        REPO / "src",
        dest / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )


@pytest.fixture(scope="module")
def api_venv(tmp_path_factory: pytest.TempPathFactory) -> ApiVenv:
    work = tmp_path_factory.mktemp("api-venv")
    source = work / "source"
    source.mkdir()
    copy_package_source(source)
    venv = ApiVenv(work / "venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv.root)], check=True)
    install = subprocess.run(
        [venv.bin("python"), "-m", "pip", "install", "-q", str(source)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return venv


def run(venv: ApiVenv, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv.bin("editserve"), *args],
        env=clean_env(**env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_model_libraries_are_not_installed(api_venv: ApiVenv) -> None:
    probe = (
        "import importlib.metadata as m, importlib.util as u, json; "
        f"names = {list(MODEL_LIBRARIES)!r}; "
        "print(json.dumps({n: u.find_spec(n) is not None for n in names})); "
        "print(m.version('editserve'))"
    )
    found = subprocess.run(
        [api_venv.bin("python"), "-c", probe], capture_output=True, text=True, check=True
    )
    importable, version = found.stdout.splitlines()
    assert json.loads(importable) == dict.fromkeys(MODEL_LIBRARIES, False)
    assert version  # editserve itself is installed (not imported from the source tree)
    torch = subprocess.run(
        [api_venv.bin("python"), "-c", "import torch"], capture_output=True, text=True
    )
    assert torch.returncode != 0
    assert "No module named 'torch'" in torch.stderr


def test_worker_processes_are_refused_with_the_install_command(
    api_venv: ApiVenv, tmp_path: Path
) -> None:
    for args in (["worker"], ["serve", "--workers", "1"]):
        result = run(api_venv, *args, cwd=tmp_path, EDITSERVE_DATA_DIR=str(tmp_path))
        assert result.returncode == 2, result.stdout + result.stderr
        assert "pip install 'editserve[gpu]'" in result.stderr
        assert "torch" in result.stderr


@pytest.fixture
def api_node(api_venv: ApiVenv, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """`editserve migrate`, then `editserve serve --workers 0` from the clean venv (SQLite)."""
    database_url = f"sqlite:///{tmp_path / 'editserve.db'}"
    for _ in range(2):  # idempotent
        migrated = run(
            api_venv,
            "migrate",
            "--database-url",
            database_url,
            cwd=tmp_path,
            EDITSERVE_DATA_DIR=str(tmp_path),
        )
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [api_venv.bin("editserve"), "serve", "--workers", "0"],
            env=clean_env(
                EDITSERVE_DATA_DIR=str(tmp_path),
                EDITSERVE_DATABASE_URL=database_url,
                EDITSERVE_PORT=str(port),
            ),
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        key_file = tmp_path / "api_key"
        deadline = time.monotonic() + 120
        while not key_file.exists() or not _answers(f"{base_url}/healthz"):
            assert process.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.3)
        yield base_url, key_file.read_text().strip(), str(tmp_path)
    finally:
        stop_server(process)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_an_api_node_serves_and_queues_without_torch(
    api_venv: ApiVenv, api_node: tuple[str, str, str]
) -> None:
    base_url, key, data_dir = api_node
    assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{base_url}/readyz")
    assert ready.status_code == 503  # no worker yet: answered, not ready
    assert ready.json()["status"] == "not_ready"

    image = "data:image/png;base64," + base64.b64encode(make_png()).decode()
    headers = {"Authorization": f"Bearer {key}"}
    response = httpx.post(f"{base_url}/api/ai/queue", json=edit_body(image), headers=headers)
    assert response.status_code == 200, response.text
    (generation,) = response.json()["generations"]
    assert generation["status"] == "queued"

    listed = run(
        api_venv, "queue", "list", "--json", "--url", base_url, "--api-key", key, cwd=Path(data_dir)
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    body = json.loads(listed.stdout)
    assert [g["generation_id"] for g in body["generations"]] == [generation["generation_id"]]
    assert body["generations"][0]["status"] == "queued"
