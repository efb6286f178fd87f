"""A sweep's cells on one worker (services/generations/sweeps.py makes them).

A sweep's cells are siblings of one batch that differ in a few parameters. The worker
claims up to :data:`MAX_SWEEP_CELLS` siblings at once (ordinary requests have at most 4,
and those beyond ``max_batch_size`` go back to the queue as before), groups the cells by
every parameter but the seed, runs each group as batched pipeline calls of at most
``max_batch_size`` jobs, and asks the adapter to share the prompt's and the pictures'
encodings across those calls (its optional ``shared_encodings()``). The step callback
counts the steps of every call in one progress, so it rises once from 0 to the total.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from editserve.domain.record import Generation
from editserve.models.base import EditJob, EditResult, ModelAdapter, StepCallback
from editserve.services.generations.sweeps import MAX_SWEEP_CELLS, SWEEP_KEY


def claim_size(max_batch_size: int) -> int:
    """How many generations a worker that batches claims at once: a whole sweep."""
    return 1 if max_batch_size <= 1 else max(max_batch_size, MAX_SWEEP_CELLS)


def is_sweep(gens: list[Generation]) -> bool:
    return bool(gens) and isinstance(gens[0].params.get(SWEEP_KEY), dict)


def over_batch(gens: list[Generation], max_batch_size: int) -> list[Generation]:
    """The generations of an ordinary claim beyond ``max_batch_size`` (none for a sweep):
    they go back to the queue, as if the claim had asked for fewer."""
    if is_sweep(gens):
        return []
    return gens[max(1, max_batch_size) :]


def _group_key(gen: Generation) -> str:
    """Every parameter but the seed (and the sweep's record)."""
    rest = {k: v for k, v in gen.params.items() if k not in ("seed", SWEEP_KEY)}
    return json.dumps(rest, sort_keys=True, default=str)


def calls_of(gens: list[Generation], max_batch_size: int) -> list[list[int]]:
    """The pipeline calls of a claimed batch, as indexes into it: the generations that
    differ only by seed, in order of first appearance, in chunks of ``max_batch_size``."""
    groups: dict[str, list[int]] = {}
    for index, gen in enumerate(gens):
        groups.setdefault(_group_key(gen), []).append(index)
    size = max(1, max_batch_size)
    return [
        members[i : i + size] for members in groups.values() for i in range(0, len(members), size)
    ]


def shared_encodings(adapter: ModelAdapter) -> AbstractContextManager[Any]:
    """The adapter's encode cache for the calls of one sweep (nothing if it has none)."""
    share = getattr(adapter, "shared_encodings", None)
    return share() if callable(share) else nullcontext()


def run_calls(
    adapter: ModelAdapter,
    jobs: list[EditJob],
    calls: list[list[int]],
    on_step: StepCallback,
) -> list[EditResult]:
    """Run the calls in order, encodings shared; the results in the jobs' order. Progress
    is one count over every call's steps."""
    total = sum(jobs[call[0]].num_inference_steps for call in calls)
    results: dict[int, EditResult] = {}
    done = 0
    with shared_encodings(adapter):
        for call in calls:
            steps = _offset(on_step, done, total)
            chunk = [jobs[i] for i in call]
            made = (
                adapter.generate_batch(chunk, steps)
                if len(chunk) > 1
                else [adapter.generate(chunk[0], steps)]
            )
            results.update(zip(call, made, strict=True))
            done += jobs[call[0]].num_inference_steps
    return [results[i] for i in range(len(jobs))]


def _offset(on_step: StepCallback, done: int, total: int) -> Callable[[int, int], None]:
    def step(k: int, _n: int) -> None:
        on_step(done + k, total)

    return step
