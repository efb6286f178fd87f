"""``editserve batch run`` against a real server and worker on the tiny weights: a folder
of images ends with every output, manifest.jsonl and the zip; interrupted midway (the
worker SIGKILLed, the CLI sent SIGINT) and run again, it finishes with every item run
exactly once (one batch, one generation per image, each succeeded)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.support import LiveServer, make_png, start_server, stop_server

pytestmark = pytest.mark.slow

IMAGES = 12


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("batch-server"))
    try:
        yield server
    finally:
        stop_server(server.process)


def folder(path: Path, shade: int) -> Path:
    path.mkdir()
    for n in range(IMAGES):
        (path / f"img-{n:02d}.png").write_bytes(make_png(32, 32, (shade, n * 20, 90)))
    return path


def cli(server: LiveServer, source: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "editserve", "batch", "run", str(source), "-p", "a hat",
        "--out", str(out), "--param", "num_inference_steps=2", "--poll", "0.2", "-q",
        "--url", server.base_url, "--api-key", server.api_key, *extra,
    ]  # fmt: skip


def batches(server: LiveServer) -> list[dict[str, Any]]:
    with server.client() as http:
        return list(http.get("/api/ai/batches", params={"limit": 100}).json()["data"])


def results(server: LiveServer, batch_id: str) -> list[dict[str, Any]]:
    with server.client() as http:
        text = http.get(f"/api/ai/batches/{batch_id}/results").text
    return [json.loads(line) for line in text.splitlines()]


def check_every_item_once(server: LiveServer, out: Path, batch: dict[str, Any]) -> None:
    assert batch["counts"]["total"] == IMAGES and batch["counts"]["succeeded"] == IMAGES
    lines = results(server, batch["id"])
    assert len({line["generation_id"] for line in lines}) == IMAGES
    assert sorted(line["custom_id"] for line in lines) == [f"img-{n:02d}" for n in range(IMAGES)]
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [m["source"] for m in manifest] == [f"img-{n:02d}.png" for n in range(IMAGES)]
    assert {m["status"] for m in manifest} == {"succeeded"}
    assert {m["batch_id"] for m in manifest} == {batch["id"]}
    for m in manifest:
        assert (out / m["output"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_folder_runs_to_outputs_a_manifest_and_a_zip(server: LiveServer, tmp_path: Path) -> None:
    source, out = folder(tmp_path / "in", 200), tmp_path / "out"
    done = subprocess.run(cli(server, source, out, "--zip"), capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()
    [batch] = [b for b in batches(server) if b["id"] in (out / "manifest.jsonl").read_text()]
    check_every_item_once(server, out, batch)
    archive = zipfile.ZipFile(out / f"{batch['id']}.zip")
    assert len(archive.namelist()) == IMAGES + 1 and "manifest.jsonl" in archive.namelist()


def test_killed_worker_and_interrupted_cli_then_a_rerun_runs_each_item_once(
    server: LiveServer, tmp_path: Path
) -> None:
    source, out = folder(tmp_path / "in", 40), tmp_path / "out"
    before = {b["id"] for b in batches(server)}
    first = subprocess.Popen(cli(server, source, out), stderr=subprocess.PIPE)
    batch = wait_for(lambda: [b for b in batches(server) if b["id"] not in before], "a batch")[0]
    wait_for(lambda: progress(server, batch["id"]) >= 2, "two items done")
    [worker] = server.worker_pids()
    os.kill(worker, signal.SIGKILL)  # its item comes back after the lease
    time.sleep(0.5)
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 130, stderr.decode()
    assert b"run the same command again" in stderr
    assert progress(server, batch["id"]) < IMAGES  # interrupted midway
    wait_for(lambda: server.worker_pids() and server.worker_pids() != [worker], "a new worker")

    again = subprocess.run(cli(server, source, out), capture_output=True, timeout=600)
    assert again.returncode == 0, again.stderr.decode()
    assert {b["id"] for b in batches(server)} - before == {batch["id"]}  # nothing resubmitted
    [final] = [b for b in batches(server) if b["id"] == batch["id"]]
    check_every_item_once(server, out, final)


def progress(server: LiveServer, batch_id: str) -> int:
    with server.client() as http:
        return int(http.get(f"/api/ai/batches/{batch_id}").json()["counts"]["succeeded"])


def wait_for(check: Any, what: str, timeout: float = 300) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {timeout} s")
