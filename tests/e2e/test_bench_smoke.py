"""The benchmark command runs end to end at its smallest sizes (no timing is asserted:
the figures are ratios for people to read; this proves the code behind them works)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_smoke_prints_one_table() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert out.startswith("machine: ")
    assert "| section | measure | ours | baseline | ratio | goal | note |" in out
    for section in ("events", "listing", "queue", "images", "overhead", "store", "model", "mask"):
        assert f"| {section} |" in out, section
    assert "delivered 100%" in out  # every subscriber got every event, hub and legacy
    # the server answered the sync edits the overhead rows time
    assert "| overhead | sync edit over HTTP vs adapter in-process" in out
    assert "| store | SQLite bytes per finished generation" in out
    for stage in ("text_encode", "vae_encode", "denoise_step", "decode"):
        for inputs in ("1 input ", "2 inputs", "3 inputs"):
            assert f"| model | {stage}, {inputs}" in out, (stage, inputs)
