"""What /metrics needs beyond the queue itself (migration 008): worker restarts and stage
latency histograms, both counted in the database so that every API node serves the
fleet's numbers and a counter never goes back when a process restarts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from editserve.store.dialect import Dialect
from editserve.store.rows import WorkerState

# Upper bounds (seconds) of the stage latency buckets; the last bucket is +Inf.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
)
INF = "+Inf"


def bucket_of(seconds: float) -> str:
    """The Prometheus `le` label of the one bucket an observation is counted in."""
    for bound in LATENCY_BUCKETS:
        if seconds <= bound:
            return format_bound(bound)
    return INF


def format_bound(bound: float) -> str:
    return INF if math.isinf(bound) else repr(float(bound))


class Observations:
    dialect: Dialect

    def record_worker_restart(self, worker_id: str) -> None:
        """The worker process exited unexpectedly and another takes its place: counted
        on its row (and the row marked stopped)."""
        self.dialect.rowcount(
            "record_worker_restart", id=worker_id, state=WorkerState.STOPPED.value
        )

    def worker_restarts(self) -> dict[str, int]:
        """Restarts so far by host (every worker row, live or not)."""
        return {row["host"]: int(row["n"]) for row in self.dialect.all("worker_restarts")}

    def record_stage_timings(self, model: str, timings: Mapping[str, float]) -> None:
        """One generation's stage timings (seconds), each counted in its bucket."""
        for stage, seconds in sorted(timings.items()):
            value = max(0.0, float(seconds))
            self.dialect.rowcount(
                "record_stage_latency", model=model, stage=stage, le=bucket_of(value), seconds=value
            )

    def stage_latency(self) -> Sequence[tuple[str, str, str, int, float]]:
        """(model, stage, le, observations in that bucket, their seconds), every bucket
        that has any; the metrics make them cumulative."""
        return [
            (row["model"], row["stage"], row["le"], int(row["observations"]), float(row["seconds"]))
            for row in self.dialect.all("stage_latency")
        ]
