"""Build docker/api.Dockerfile with podman and run the image: an API node in a container.

No image registry is reachable from this machine (only the package registries are), so the
Dockerfile's base, python:3.11-slim-bookworm, is stood in for by the same Debian release
with its Python 3.11, made here with debootstrap from Debian's packages and imported into
podman once (kept as localhost/editserve-test-base:bookworm between runs); the Dockerfile
itself is built unchanged, with only its PYTHON_IMAGE build argument pointing at that base.
The stand-in base carries this machine's CA bundle so pip inside the build trusts the same
HTTPS as pip outside it.

Engine notes for this kind of machine (cgroup v1, no CAP_SYS_RESOURCE): podman runs with
runc (crun refuses the hybrid cgroup layout) and with resource limits no higher than this
process's own (raising them needs CAP_SYS_RESOURCE).
"""

from __future__ import annotations

import base64
import os
import resource
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fixtures.e2e import edit_body
from fixtures.support import REPO, free_port, make_png

pytestmark = pytest.mark.slow

BASE_IMAGE = "localhost/editserve-test-base:bookworm"
API_IMAGE = "localhost/editserve-api:test"
LABEL = "org.editserve.test=api-image"
TOOLS = ("podman", "runc", "debootstrap")


def engine_missing() -> str | None:
    if os.geteuid() != 0:
        return "building images here needs root (rootful podman)"
    missing = [name for name in TOOLS if shutil.which(name) is None]
    if not Path("/usr/lib/cni/bridge").exists():
        missing.append("containernetworking-plugins")
    return f"install Debian's {' '.join(missing)} (./dev test does as root)" if missing else None


def runtime_flags() -> list[str]:
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    return [
        "--runtime",
        str(shutil.which("runc")),
        "--ulimit",
        f"nofile={nofile[0]}:{nofile[1]}",
        "--ulimit",
        "nproc=4096:4096",
    ]


def podman(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"podman {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result


def ensure_base_image(work: Path) -> None:
    """Debian bookworm + Python 3.11 + venv, the stand-in for python:3.11-slim-bookworm."""
    if podman("image", "exists", BASE_IMAGE, check=False).returncode == 0:
        return
    rootfs = work / "rootfs"
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,ca-certificates",
            "bookworm",
            str(rootfs),
            "http://deb.debian.org/debian",
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    shutil.copy2("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc/ssl/certs/")
    (rootfs / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        shutil.rmtree(rootfs / cache, ignore_errors=True)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(
        ["podman", "import", "-", BASE_IMAGE], stdin=tar.stdout, capture_output=True, timeout=600
    )
    tar.wait()
    assert imported.returncode == 0, imported.stderr
    shutil.rmtree(rootfs, ignore_errors=True)


@pytest.fixture(scope="module")
def api_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    reason = engine_missing()
    if reason:
        pytest.skip(reason)
    ensure_base_image(tmp_path_factory.mktemp("base-image"))
    podman(
        "build",
        "--format",
        "docker",
        *runtime_flags(),
        "--build-arg",
        f"PYTHON_IMAGE={BASE_IMAGE}",
        "-f",
        str(REPO / "docker" / "api.Dockerfile"),
        "--label",
        LABEL,
        "-t",
        API_IMAGE,
        str(REPO),
        timeout=900,
    )
    # the build stage and the previous build's image, untagged now (the base image stays)
    podman("image", "prune", "-f", "--filter", f"label={LABEL}", check=False)
    return API_IMAGE


@pytest.fixture
def api_container(api_image: str) -> Iterator[tuple[str, str]]:
    port = free_port()
    name = f"editserve-api-test-{port}"
    podman("run", "-d", "--name", name, *runtime_flags(), "-p", f"127.0.0.1:{port}:8000", api_image)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _healthy(base_url):
            state = podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
            logged = podman("logs", name)
            logs = logged.stdout + logged.stderr
            assert state == "running", logs
            assert time.monotonic() < deadline, logs
            time.sleep(0.5)
        yield name, base_url
    finally:
        podman("rm", "-f", "-t", "5", name, check=False)


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_api_image_runs_an_api_node(api_container: tuple[str, str]) -> None:
    name, base_url = api_container
    assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
    torch = podman("exec", name, "python3", "-c", "import torch", check=False)
    assert torch.returncode != 0 and "No module named 'torch'" in torch.stderr
    assert podman("healthcheck", "run", name, check=False).returncode == 0

    assert httpx.get(f"{base_url}/readyz").json()["status"] == "not_ready"  # API only
    key = podman("exec", name, "cat", "/var/lib/editserve/api_key").stdout.strip()
    image = "data:image/png;base64," + base64.b64encode(make_png()).decode()
    response = httpx.post(
        f"{base_url}/api/ai/queue",
        json=edit_body(image),
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["generations"][0]["status"] == "queued"


def test_the_api_image_runs_migrate_as_a_one_shot(api_image: str) -> None:
    result = podman(
        "run",
        "--rm",
        *runtime_flags(),
        api_image,
        "editserve",
        "migrate",
        "--database-url",
        "sqlite:////var/lib/editserve/editserve.db",
    )
    assert result.returncode == 0
