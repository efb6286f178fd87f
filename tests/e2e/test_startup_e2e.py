"""A server whose worker downloads its weights on first start (from a hub on loopback),
followed as it goes: /readyz, the model card and `editserve status` show the download with
its bytes while it lasts, then the worker's log has each later stage, and it is ready."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.hub_server import FakeHub
from fixtures.support import start_server, stop_server

pytestmark = pytest.mark.slow

REPO = "test-org/tiny-qwen"
MODEL = "qwen-image-edit-plus"
MB = 1024 * 1024


def readiness(base_url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The model's readiness (with a key's headers: worker ids and other details too)."""
    return httpx.get(f"{base_url}/readyz", headers=headers, timeout=10).json()["models"][MODEL]


def wait_for(check: Any, timeout: float = 240.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.2)


def test_a_first_start_shows_its_download_then_each_stage(
    tiny_weights: Path, tmp_path: Path
) -> None:
    # The tiny VAE (2.7 MB) stops after 1.5 MB until released: the download is visible
    # for as long as the test looks at it.
    with FakeHub(hold_after=MB + MB // 2) as hub:
        hub.add_repo(REPO, tiny_weights)
        hf = {"HF_ENDPOINT": hub.url, "HF_HUB_CACHE": str(tmp_path / "hf")}
        server = start_server(
            tmp_path / "data", wait_ready=False, EDITSERVE_MODEL_WEIGHTS=REPO, **hf
        )
        try:
            ready_now = httpx.get(f"{server.base_url}/readyz", timeout=10)
            assert ready_now.status_code == 503
            seen = wait_for(
                lambda: (
                    (r := readiness(server.base_url, server.headers)).get("stage") == "downloading"
                    and r["stage_detail"]["bytes_done"] >= MB
                    and r
                )
            )
            assert seen["readiness"] == "loading"
            total = seen["stage_detail"]["bytes_total"]
            assert total == sum(p.stat().st_size for p in tiny_weights.rglob("*") if p.is_file())
            assert (
                seen["stage_text"].startswith("downloading ")
                and f"of {total / 1e6:.1f} MB" in seen["stage_text"]
            )
            [worker] = seen["worker_stages"]
            assert worker["stage"] == "downloading"

            card = server.client().get(f"/api/ai/models/{MODEL}").json()
            assert card["stage"] == "downloading" and card["stage_detail"]["bytes_total"] == total

            status = subprocess.run(
                [sys.executable, "-m", "editserve", "status", "--json"],
                env={**os.environ, "EDITSERVE_DATA_DIR": str(server.data_dir)},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert status.returncode == 0, status.stderr
            snapshot = json.loads(status.stdout)
            [row] = [w for w in snapshot["workers"] if w["id"] == worker["worker_id"]]
            assert row["stage"] == "downloading" and row["stage_detail"]["bytes_total"] == total
            assert snapshot["models"][0]["readiness"] == "loading"

            hub.release.set()
            ready = wait_for(
                lambda: httpx.get(f"{server.base_url}/readyz", timeout=10).status_code == 200
            )
            assert ready
            final = readiness(server.base_url)
            assert final["stage"] == "ready" and final["stage_text"].startswith("ready in ")
            log = server.log()
            for line in (
                "loading component 1 of 6",
                "applying options: placing it on cpu",
                "warming up (run 1 of 1",
            ):
                assert line in log, line
        finally:
            stop_server(server.process)
