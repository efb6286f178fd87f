"""`editserve prune` against a real server's data: a dry run counts and deletes nothing;
the prune deletes the old generation (its result link then answers 404) and keeps the
recent one and the input they share; /metrics shows what went."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.e2e import edit_body, wait_for
from fixtures.support import LiveServer, make_png, start_server, stop_server

pytestmark = pytest.mark.slow

DAY = 86400.0


@pytest.fixture
def server(tmp_path: Path, tiny_weights: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "data", EDITSERVE_RETENTION_DAYS="30")
    try:
        yield live
    finally:
        stop_server(live.process)


def prune(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDITSERVE_")}
    return subprocess.run(
        [sys.executable, "-m", "editserve", "prune", "--data-dir", str(data_dir), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_prune_deletes_the_old_generation_and_keeps_the_recent_one(server: LiveServer) -> None:
    image = "data:image/png;base64," + base64.b64encode(make_png()).decode()
    with server.client() as client:
        queued = client.post("/api/ai/queue", json=edit_body(image, num_generations=2, seed=3))
        assert queued.status_code == 200, queued.text
        old, recent = [wait_for(client, g["generation_id"]) for g in queued.json()["generations"]]
    assert old["status"] == recent["status"] == "succeeded"
    with sqlite3.connect(server.data_dir / "editserve.db") as db:  # the old one ended 40 days ago
        db.execute(
            "UPDATE generations SET completed_at = completed_at - ? WHERE id = ?",
            (40 * DAY, old["generation_id"]),
        )

    dry = prune(server.data_dir, "--older-than", "30", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    counted: dict[str, Any] = json.loads(dry.stdout)
    assert counted["ran"] and counted["dry_run"]
    assert counted["would_delete"]["generations"] == 1
    assert counted["would_delete"]["outputs"] == 1
    assert counted["would_delete"]["inputs"] == 0  # the recent one uses the same input
    assert httpx.get(old["result_url"]).status_code == 200  # a dry run deletes nothing

    done = prune(server.data_dir)  # no --older-than and no EDITSERVE_RETENTION_DAYS here
    assert done.returncode == 2 and "--older-than" in done.stderr
    done = prune(server.data_dir, "--older-than", "30")
    assert done.returncode == 0, done.stderr
    assert "deleted:" in done.stdout
    assert [line.split() for line in done.stdout.splitlines() if "generations" in line] == [
        ["generations", "1"]
    ]

    assert httpx.get(old["result_url"]).status_code == 404
    with server.client() as client:
        assert client.get(f"/api/ai/queue/{old['generation_id']}").status_code == 404
        assert client.get(f"/api/ai/queue/{recent['generation_id']}").status_code == 200
        history = client.get("/api/ai/generations").json()
        metrics = client.get("/metrics").text
    assert httpx.get(recent["result_url"]).status_code == 200
    assert [g["generation_id"] for g in history["generations"]] == [recent["generation_id"]]
    assert history["total_entries"] == 1
    assert 'editserve_pruned_total{kind="generations"} 1.0' in metrics
    assert 'editserve_pruned_total{kind="outputs"} 1.0' in metrics
    assert "editserve_last_prune_timestamp_seconds" in metrics
