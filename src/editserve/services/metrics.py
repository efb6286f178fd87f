"""Prometheus metrics read from the store at scrape time (any node shows the whole fleet).

Stage latencies are histograms counted in the database (store/observed.py, migration 008)
as each generation succeeds, not computed from recent generations at scrape time: a
Prometheus histogram is a set of counters that must only grow, and only a count kept in
the shared store grows the same on every API node and survives restarts. Restarts are
counted on the worker rows by the supervisor that replaced the process.
"""

from __future__ import annotations

from collections.abc import Iterator

from anyio import to_thread
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from editserve.domain.record import Status
from editserve.models.registry import ModelRegistry
from editserve.services.catalog import WORKER_FRESH_SECONDS
from editserve.services.retention.metrics import retention_metrics
from editserve.store import MetricsStore
from editserve.store.observed import INF, LATENCY_BUCKETS, format_bound
from editserve.store.rows import WorkerRow, WorkerState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StoreCollector(Collector):
    def __init__(self, store: MetricsStore, registry: ModelRegistry) -> None:
        self.store = store
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        generations = GaugeMetricFamily(
            "editserve_generations",
            "Generations by model and status (all keys).",
            labels=["model", "status"],
        )
        counts = self.store.status_counts()
        models = {model for model, _ in counts} | {spec.id for spec in self.registry.all()}
        for model in sorted(models):
            for status in Status:
                generations.add_metric([model, status.value], counts.get((model, status.value), 0))
        yield generations
        workers = GaugeMetricFamily(
            "editserve_workers", "Live worker processes by state.", labels=["state"]
        )
        live = self.store.list_workers(WORKER_FRESH_SECONDS)
        states: dict[str, int] = {}
        for worker in live:
            states[worker.state] = states.get(worker.state, 0) + 1
        for state in WorkerState:
            workers.add_metric([state.value], states.get(state, 0))
        yield workers
        yield from self._models_in_memory(live)
        restarts = CounterMetricFamily(
            "editserve_worker_restarts",
            "Worker processes replaced after an unexpected exit (a crash or the watchdog).",
            labels=["host"],
        )
        for host, count in sorted(self.store.worker_restarts().items()):
            restarts.add_metric([host], count)
        yield restarts
        yield self._stage_latency()
        yield from retention_metrics(self.store)

    def _stage_latency(self) -> Metric:
        """Seconds each stage of a succeeded generation took (its `timings`), by model."""
        histogram = HistogramMetricFamily(
            "editserve_stage_seconds",
            "Stage latency of succeeded generations (queue_wait, input_decode, the "
            "pipeline's stages, encode_store, total), by model.",
            labels=["model", "stage"],
        )
        found: dict[tuple[str, str], dict[str, tuple[int, float]]] = {}
        for model, stage, le, count, seconds in self.store.stage_latency():
            found.setdefault((model, stage), {})[le] = (count, seconds)
        bounds = [format_bound(b) for b in LATENCY_BUCKETS] + [INF]
        for (model, stage), buckets in sorted(found.items()):
            cumulative, total, rows = 0, 0.0, []
            for le in bounds:
                count, seconds = buckets.get(le, (0, 0.0))
                cumulative, total = cumulative + count, total + seconds
                rows.append((le, float(cumulative)))
            histogram.add_metric([model, stage], rows, sum_value=total)
        return histogram

    def _models_in_memory(self, live: list[WorkerRow]) -> Iterator[Metric]:
        """Which model each live worker holds, and how often each swapped models."""
        loaded = GaugeMetricFamily(
            "editserve_model_loaded",
            "Live workers holding the model in memory (1 per worker and device).",
            labels=["model", "worker", "device"],
        )
        swaps = CounterMetricFamily(
            "editserve_model_swaps",
            "Times a live worker unloaded one model to load another (EDITSERVE_MODELS).",
            labels=["worker"],
        )
        for worker in live:
            if worker.model and worker.state is not WorkerState.STOPPED:
                loaded.add_metric([worker.model, worker.id, worker.device], 1)
            swaps.add_metric([worker.id], worker.swaps)
        yield loaded
        yield swaps


class StoreMetrics:
    """What /metrics serves."""

    def __init__(self, store: MetricsStore, registry: ModelRegistry) -> None:
        self._collector = StoreCollector(store, registry)

    async def render(self) -> bytes:
        """The Prometheus text exposition of the store's state, read now."""
        metrics = CollectorRegistry()
        metrics.register(self._collector)
        return await to_thread.run_sync(generate_latest, metrics)
