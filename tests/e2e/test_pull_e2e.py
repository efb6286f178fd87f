"""`editserve pull` as a user runs it, against a hub on loopback (HF_ENDPOINT): Ctrl-C in the
middle of a file and a second run that resumes it with a Range request; a disk that fills
up (a low file-size limit) and the run after it; a disk too small, refused before a byte."""

from __future__ import annotations

import hashlib
import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fixtures.hub_server import FakeHub

pytestmark = pytest.mark.slow

REPO = "test-org/big-model"
MB = 1024 * 1024
WEIGHTS = random.Random(14).randbytes(24 * MB + 4321)
FILES = {"model_index.json": b'{"_class_name": "Big"}', "big/model.safetensors": WEIGHTS}


def wait_until(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.05)


def env(hub: FakeHub, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HF_ENDPOINT": hub.url,
        "HF_HUB_CACHE": str(tmp_path / "hf"),
        "EDITSERVE_DATA_DIR": str(tmp_path / "data"),
        "EDITSERVE_MODEL_WEIGHTS": REPO,
    }


def pull(
    hub: FakeHub, tmp_path: Path, *args: str, extra: dict[str, str] | None = None, **popen: Any
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "editserve", "pull", *args],
        env={**env(hub, tmp_path), **(extra or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def partial_size(tmp_path: Path) -> int:
    found = list((tmp_path / "hf").glob("models--*/blobs/*.incomplete"))
    return found[0].stat().st_size if found else 0


def snapshot_file(tmp_path: Path) -> Path:
    [path] = (tmp_path / "hf").glob("models--*/snapshots/*/big/model.safetensors")
    return path


def test_ctrl_c_then_pull_again_resumes_the_file(tmp_path: Path) -> None:
    with FakeHub(hold_after=8 * MB) as hub:
        hub.add_files(REPO, FILES)
        first = pull(hub, tmp_path)
        assert hub.holding.wait(120)  # 8 MB sent; the hub holds the rest
        wait_until(lambda: partial_size(tmp_path) == 8 * MB)
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=60)
        assert first.returncode == 130, err
        assert "interrupted: what was downloaded is kept; run `editserve pull` again" in err
        assert partial_size(tmp_path) == 8 * MB

        hub.release.set()
        again = pull(hub, tmp_path, "--json")
        out, err = again.communicate(timeout=120)
        assert again.returncode == 0, err
        result = json.loads(out)
        assert hub.body_gets()[-1].range == f"bytes={8 * MB}-"  # only the rest was asked for
    assert result["downloaded_bytes"] == len(WEIGHTS) - 8 * MB
    assert result["models"][0]["sources"][0]["verified"] is True
    assert (
        hashlib.sha256(snapshot_file(tmp_path).read_bytes()).digest()
        == hashlib.sha256(WEIGHTS).digest()
    )
    assert partial_size(tmp_path) == 0


def test_a_full_disk_stops_the_pull_and_the_next_one_finishes(tmp_path: Path) -> None:
    def low_file_size_limit() -> None:  # a disk that fills up after 5 MB of this file
        resource.setrlimit(resource.RLIMIT_FSIZE, (5 * MB, 5 * MB))

    with FakeHub() as hub:
        hub.add_files(REPO, FILES)
        full = pull(hub, tmp_path, preexec_fn=low_file_size_limit)
        _, err = full.communicate(timeout=120)
        assert full.returncode == 1, err
        assert "the disk is full (or a file-size limit was hit)" in err
        assert "run `editserve pull` again: it resumes" in err
        kept = partial_size(tmp_path)
        assert 0 < kept <= 5 * MB

        # HF_HUB_OFFLINE exported after an earlier pull does not stop this one
        again = pull(hub, tmp_path, extra={"HF_HUB_OFFLINE": "1"})
        _, err = again.communicate(timeout=120)
        assert again.returncode == 0, err
        assert "HF_HUB_OFFLINE is set: lifted for this pull." in err
        assert hub.body_gets()[-1].range == f"bytes={kept}-"
    assert "/25.2 MB" in err  # the progress bar's bytes done / total
    assert "Downloaded" in err and "every file checked against the hub" in err
    assert snapshot_file(tmp_path).read_bytes() == WEIGHTS


def test_a_disk_too_small_is_refused_before_a_byte(tmp_path: Path) -> None:
    with FakeHub() as hub:
        hub.add_files(REPO, FILES)
        refused = pull(hub, tmp_path, "--keep-free", "100000TB")
        _, err = refused.communicate(timeout=120)
        assert refused.returncode == 1
        assert "not enough disk space: the download needs 25.2 MB more" in err
        assert hub.body_gets() == []
