"""Prometheus metrics read from the store at scrape time (any node shows the whole fleet)."""

from __future__ import annotations

from collections.abc import Iterator

from anyio import to_thread
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from editserve.catalog import WORKER_FRESH_SECONDS
from editserve.generations.record import Status
from editserve.models.registry import ModelRegistry
from editserve.store import Store
from editserve.store.rows import WorkerRow, WorkerState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StoreCollector(Collector):
    def __init__(self, store: Store, registry: ModelRegistry) -> None:
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

    def __init__(self, store: Store, registry: ModelRegistry) -> None:
        self._collector = StoreCollector(store, registry)

    async def render(self) -> bytes:
        """The Prometheus text exposition of the store's state, read now."""
        metrics = CollectorRegistry()
        metrics.register(self._collector)
        return await to_thread.run_sync(generate_latest, metrics)
