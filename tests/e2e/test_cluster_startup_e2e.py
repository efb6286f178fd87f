"""Nodes that start cleanly, as real processes on one PostgreSQL database: `editserve
migrate` run by several nodes at once, a node whose agreed setting differs refused at its
start, a second API node that uses the cluster's first key and signing secret, and start-up
refusals that say what to fix (database unreachable, storage unusable)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from fixtures.e2e import edit_body, wait_for
from fixtures.postgres import fresh_database, require_postgres
from fixtures.support import (
    LiveServer,
    fast_server_env,
    free_port,
    make_png,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.slow

EDITSERVE = [sys.executable, "-m", "editserve"]


def node_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, **fast_server_env(data_dir, **extra)}
    env.pop("EDITSERVE_SIGNING_SECRET", None)  # the cluster record holds the secret
    return env


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*EDITSERVE, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def spawn(args: list[str], data_dir: Path, **extra: str) -> subprocess.Popen[bytes]:
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / "node.log", "wb")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        [*EDITSERVE, *args],
        env=node_env(data_dir, **extra),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def query(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def database() -> Iterator[str]:
    require_postgres()
    with fresh_database() as url:  # empty: the nodes migrate it themselves
        yield url


def refused_quickly(result: subprocess.CompletedProcess, *says: str) -> str:
    """A start refused: non-zero, the message on stderr, no traceback."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    for text in says:
        assert text in result.stderr, output
    return result.stderr


# --- editserve migrate ------------------------------------------------------------------


def test_nodes_migrating_at_once_make_one_cluster_and_one_key(
    database: str, tmp_path: Path
) -> None:
    dirs = [tmp_path / f"node-{i}" for i in range(3)]
    procs = [
        subprocess.Popen(
            [*EDITSERVE, "migrate", "--json"],
            env=node_env(d, EDITSERVE_DATABASE_URL=database),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for d in dirs
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], outputs
    reports = [json.loads(out) for out, _ in outputs]

    assert sum(r["cluster_created"] for r in reports) == 1
    assert len({r["cluster_id"] for r in reports}) == 1
    assert sum(bool(r["migrations_applied"]) for r in reports) == 1
    made = [r for r in reports if r["first_key"]["created"]]
    assert len(made) == 1
    assert query(database, "SELECT count(*) FROM api_keys") == [(1,)]
    assert query(database, "SELECT count(*) FROM cluster WHERE name = 'cluster_id'") == [(1,)]
    key_files = [d / "api_key" for d in dirs if (d / "api_key").exists()]
    assert len(key_files) == 1
    assert key_files[0].read_text().strip() == made[0]["first_key"]["secret"]
    assert {r["first_key"]["id"] for r in reports} == {
        query(database, "SELECT id FROM api_keys")[0][0]
    }

    again = run(["migrate"], node_env(dirs[0], EDITSERVE_DATABASE_URL=database))
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stdout and "Created the first API key" not in again.stdout


# --- a cluster of API nodes ------------------------------------------------------------------


def wait_up(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, log.read_text()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code in (200, 503):
                return
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.3)


def on(base_url: str, link: str) -> str:
    """The same link, asked of another node."""
    parts, base = urlsplit(link), urlsplit(base_url)
    return urlunsplit(parts._replace(scheme=base.scheme, netloc=base.netloc))


@pytest.fixture
def node_a(database: str, tmp_path: Path, tiny_weights: Path) -> Iterator[LiveServer]:
    node = start_server(
        tmp_path / "api-a",
        wait_ready=False,
        EDITSERVE_DATABASE_URL=database,
        EDITSERVE_STORAGE_URL=f"file://{tmp_path / 'shared-files'}",
        EDITSERVE_WORKERS="0",
    )
    try:
        yield node
    finally:
        stop_server(node.process)


def test_a_second_api_node_uses_the_first_key_and_the_signing_secret(
    node_a: LiveServer, database: str, tmp_path: Path
) -> None:
    assert "Created the first API key" in node_a.log()
    shared = {
        "EDITSERVE_DATABASE_URL": database,
        "EDITSERVE_STORAGE_URL": f"file://{tmp_path / 'shared-files'}",
    }
    port = free_port()
    node_b = spawn(
        ["serve"], tmp_path / "api-b", EDITSERVE_WORKERS="0", EDITSERVE_PORT=str(port), **shared
    )
    worker = spawn(["worker", "--worker-id", "gpu-1"], tmp_path / "gpu-1", **shared)
    base_b = f"http://127.0.0.1:{port}"
    try:
        wait_up(base_b, node_b, tmp_path / "api-b" / "node.log")
        log_b = (tmp_path / "api-b" / "node.log").read_text()
        assert "Created the first API key" not in log_b
        assert not (tmp_path / "api-b" / "api_key").exists()
        key_id = query(database, "SELECT id FROM api_keys")[0][0]
        assert f"the cluster's first key ({key_id}) was made" in log_b
        assert "api-a" in log_b  # the node that holds it

        image = "data:image/png;base64," + base64.b64encode(make_png()).decode()
        with node_a.client() as client_a:
            queued = client_a.post("/api/ai/queue", json=edit_body(image))
            assert queued.status_code == 200, queued.text
            done = wait_for(client_a, queued.json()["generations"][0]["generation_id"])
        assert done["status"] == "succeeded", done
        link = done["result_url"]
        assert httpx.get(link).status_code == 200
        from_b = httpx.get(on(base_b, link))  # no EDITSERVE_SIGNING_SECRET anywhere
        assert from_b.status_code == 200 and from_b.content == httpx.get(link).content
        forged = on(base_b, link).replace("signature=", "signature=0")
        assert httpx.get(forged).status_code in (401, 403, 404)
        with httpx.Client(base_url=base_b, headers=node_a.headers) as client_b:
            assert client_b.get(f"/api/ai/queue/{done['generation_id']}").status_code == 200
    finally:
        stop_server(worker)
        stop_server(node_b)


def test_a_node_whose_agreed_setting_differs_is_refused_at_its_start(
    node_a: LiveServer, database: str, tmp_path: Path
) -> None:
    shared = {
        "EDITSERVE_DATABASE_URL": database,
        "EDITSERVE_STORAGE_URL": f"file://{tmp_path / 'shared-files'}",
    }
    api_b = run(
        ["serve", "--workers", "0", "--port", str(free_port())],
        node_env(tmp_path / "api-b", EDITSERVE_OUTPUT_AREA="1048576", **shared),
    )
    refused_quickly(
        api_b,
        "setting EDITSERVE_OUTPUT_AREA differs from the cluster's: this node 1048576, "
        f"cluster {64 * 64} (recorded ",
        "by node ",
        "editserve migrate --accept-settings",
    )
    worker = run(["worker"], node_env(tmp_path / "gpu-1", EDITSERVE_LIGHTNING="4", **shared))
    refused_quickly(worker, "setting EDITSERVE_LIGHTNING differs", "this node 4, cluster off")
    assert query(database, "SELECT count(*) FROM workers") == [(0,)]  # it never registered

    accept = run(
        ["migrate", "--accept-settings"],
        node_env(tmp_path / "admin", EDITSERVE_OUTPUT_AREA="1048576", **shared),
    )
    assert accept.returncode == 0, accept.stderr
    assert f"changed the cluster's EDITSERVE_OUTPUT_AREA from {64 * 64} to 1048576" in (
        accept.stdout
    )
    value = "SELECT value FROM cluster WHERE name = 'setting.output_area'"
    assert query(database, value) == [("1048576",)]


# --- start-up refusals that say what to fix --------------------------------------------

NODES = [["serve", "--workers", "0"], ["worker"]]


def node_args(command: list[str]) -> list[str]:
    return [*command, "--port", str(free_port())] if command[0] == "serve" else command


@pytest.mark.parametrize("command", NODES)
def test_an_unreachable_database_is_named_without_its_password(
    command: list[str], tmp_path: Path
) -> None:
    unreachable = "postgresql://ed:s3cret@127.0.0.1:1/x"
    env = node_env(tmp_path / "node", EDITSERVE_DATABASE_URL=unreachable)
    result = run(node_args(command), env)
    message = refused_quickly(
        result,
        "cannot open the database postgresql://ed:***@127.0.0.1:1/x",
        "EDITSERVE_DATABASE_URL",
    )
    assert "s3cret" not in result.stdout + result.stderr
    assert len([line for line in message.splitlines() if line.strip()]) == 1


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """A folder this process cannot write (root ignores modes: the immutable flag)."""
    folder.mkdir(parents=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    flagged = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    if flagged.returncode != 0:
        pytest.skip(f"cannot make a folder unwritable as root here: {flagged.stderr!r}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.mark.parametrize("command", NODES)
def test_a_storage_folder_that_is_not_a_folder_is_refused(
    command: list[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "files"
    blocker.write_text("a file where the storage folder should be")
    env = node_env(tmp_path / "node", EDITSERVE_STORAGE_URL=f"file://{blocker}")
    result = run(node_args(command), env)
    refused_quickly(result, f"cannot use the storage file://{blocker}", "EDITSERVE_STORAGE_URL")


@pytest.mark.parametrize("command", NODES)
def test_a_storage_folder_that_is_not_writable_is_refused(
    command: list[str], tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    with unwritable(folder):
        env = node_env(tmp_path / "node", EDITSERVE_STORAGE_URL=f"file://{folder}")
        result = run(node_args(command), env)
    refused_quickly(result, f"storage folder {folder}", "not writable")
