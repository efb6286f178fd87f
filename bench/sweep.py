"""A 9-cell sweep (3 seeds × 3 true_cfg_scale values) against the same 9 cells as 9
separate requests, through the worker's adapter on the tiny model (the CPU).

Both build their jobs the way a worker does (the spec's validation, sizing and job) from
one picture and prompt. The sweep runs as the worker runs a sweep's cells
(worker/sweep.py): one batched call per CFG value (the three seeds), the prompt, the
negative prompt and the picture encoded once for the three calls (the adapter's
shared_encodings). The separate requests are 9 ordinary single calls. Timed interleaved,
whole runs; ratio = separate / sweep (goal: at least 2). The note counts how often the
text encoder and the VAE encoder ran in one sweep.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench import tiny_model
from bench.common import Row, paired
from editserve.models.registry import default_registry
from editserve.worker.sweep import run_calls

SECTION = "sweep"
SEEDS = (1, 2, 3)
CFGS = (2.5, 4.0, 5.5)


def cells(settings: Any, steps: int) -> list[Any]:
    """The 9 cells' jobs, row-major over (true_cfg_scale, seed) as a sweep stores them."""
    spec = default_registry().find(tiny_model.MODEL)
    assert spec is not None
    picture = tiny_model.sample(0)
    jobs = []
    for cfg in CFGS:
        for seed in SEEDS:
            fields = {**tiny_model.request_fields(1, steps, seed), "true_cfg_scale": cfg}
            params = spec.validate_params(fields, settings)
            plan = spec.plan_size(params, [picture.size], settings)
            jobs.append(
                spec.build_job(params.model_dump(), [picture], seed=seed, width=plan.width,
                               height=plan.height, area=plan.area)
            )  # fmt: skip
    return jobs


def encoder_runs(adapter: Any, run: Any) -> dict[str, int]:
    """How often the text encoder and the VAE's encoder ran during `run()`."""
    pipe = adapter.pipeline
    counts = {"text": 0, "vae": 0}

    def counter(name: str) -> Any:
        return lambda *_: counts.__setitem__(name, counts[name] + 1)

    hooks = [
        pipe.text_encoder.register_forward_hook(counter("text")),
        pipe.vae.encoder.register_forward_hook(counter("vae")),
    ]
    try:
        run()
    finally:
        for hook in hooks:
            hook.remove()
    return counts


def run(adapter: Any, area: int, steps: int, repeat: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as folder:
        jobs = cells(tiny_model.tiny_settings(Path(folder), area), steps)
    calls = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]  # the seeds of one CFG value: one call

    def sweep() -> None:
        run_calls(adapter, jobs, calls, tiny_model.ignore)

    def separate() -> None:
        for job in jobs:
            adapter.generate(job, tiny_model.ignore)

    counts = encoder_runs(adapter, sweep)  # also the untimed first run at these shapes
    adapter.generate(jobs[0], tiny_model.ignore)
    baseline, ours = paired(separate, sweep, repeat)
    job = jobs[0]
    name = (
        f"9-cell sweep (3 seeds x 3 CFG) vs 9 separate requests (tiny, {job.width}x"
        f"{job.height}, {steps} steps)"
    )
    note = (
        f"best of {repeat}, interleaved; one sweep ran the text encoder {counts['text']}x "
        f"(prompt + negative) and the VAE encoder {counts['vae']}x (9 requests: 18x, 9x)"
    )
    return [Row(SECTION, name, ours, baseline, "s", goal=2.0, note=note)]
