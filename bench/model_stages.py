"""The model's stages on the CPU at 1, 2 and 3 input images (tiny random weights).

The adapter times each pipeline call itself (call.py: forward hooks on the text encoder
and the transformer, marks at each step): text encode (the VL encoder over prompt and
images), VAE encode of the inputs, denoising (per step here) and VAE decode. These are
the figures a worker records in every generation's ``timings`` and in /metrics' stage
latency histograms. Each row compares one stage with the whole call at that number of
inputs (ratio = call / stage: how many times the stage fits in the call); the note gives
its share of the call and how it grows from 1 input. The tiny model's transformer is
~92k parameters, so the VAE and the encoders dominate here, unlike on a GPU with the
real 20B transformer (bench/gpu.py measures that).
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench import tiny_model
from bench.common import Row

SECTION = "model"
STAGES = ("text_encode", "vae_encode", "denoise_step", "decode")


def measure(adapter: Any, area: int, steps: int, repeat: int) -> dict[int, dict[str, float]]:
    """Median seconds of each stage (and the whole call) per number of inputs."""
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        settings = tiny_model.tiny_settings(Path(folder), area)
        for inputs in (1, 2, 3):
            job = tiny_model.make_job(settings, inputs, steps)
            adapter.generate(job, tiny_model.ignore)  # first call at this shape: not timed
            samples: dict[str, list[float]] = {name: [] for name in (*STAGES, "inference")}
            for _ in range(max(1, repeat)):
                timings = adapter.generate(job, tiny_model.ignore).timings
                samples["text_encode"].append(timings["text_encode"])
                samples["vae_encode"].append(timings["vae_encode"])
                samples["denoise_step"].append(timings["denoise"] / steps)
                samples["decode"].append(timings["decode"])
                samples["inference"].append(timings["inference"])
            results[inputs] = {name: statistics.median(v) for name, v in samples.items()}
            results[inputs]["size"] = job.width * job.height
    return results


def run(adapter: Any, area: int, steps: int, repeat: int) -> list[Row]:
    results = measure(adapter, area, steps, repeat)
    side = int(results[1]["size"] ** 0.5)
    rows = []
    for inputs, got in results.items():
        for stage in STAGES:
            share = got[stage] / got["inference"] if got["inference"] else float("nan")
            growth = got[stage] / results[1][stage] if results[1][stage] else float("nan")
            rows.append(
                Row(SECTION, f"{stage}, {inputs} input{'s' if inputs > 1 else ''} (~{side}², "
                             f"{steps} steps)", got[stage], got["inference"], "s",
                    note=f"{share:.0%} of the call; {growth:.2f}x the 1-input time")
            )  # fmt: skip
    return rows
