"""Prometheus metrics read from the store at scrape time (any node shows the whole fleet).

Stage latencies are histograms counted in the database (store/observed.py, migration 008)
as each generation succeeds, not computed from recent generations at scrape time: a
Prometheus histogram is a set of counters that must only grow, and only a count kept in
the shared store grows the same on every API node and survives restarts. Restarts are
counted on the worker rows by the supervisor that replaced the process.

Every number is public; the labels that name workers and hosts (``worker``, ``host``) are
shown only with details (EDITSERVE_PUBLIC_DETAILS, or a scrape with a valid key): without
them those series are summed over the workers and hosts.
"""

from __future__ import annotations

from collections import Counter
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
    def __init__(self, store: MetricsStore, registry: ModelRegistry, details: bool = True) -> None:
        self.store = store
        self.registry = registry
        self.details = details  # worker and host labels (else summed over them)

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
        yield self._restarts()
        yield self._stage_latency()
        yield from self._usage()
        yield from retention_metrics(self.store)

    def _usage(self) -> Iterator[Metric]:
        """What the keys used (usage_hours): per key and model (per model only without
        details: key ids are shown to key holders)."""
        labels = ["key", "model"] if self.details else ["model"]
        families = {
            "generations": CounterMetricFamily(
                "editserve_usage_generations", "Generations workers finished.", labels=labels
            ),
            "gpu_seconds": CounterMetricFamily(
                "editserve_usage_gpu_seconds", "Worker seconds they took.", labels=labels
            ),
            "output_megapixels": CounterMetricFamily(
                "editserve_usage_output_megapixels", "Megapixels they produced.", labels=labels
            ),
        }
        sums: dict[tuple[str, ...], dict[str, float]] = {}
        for row in self.store.usage_totals():
            group: tuple[str, ...] = (row.owner, row.model) if self.details else (row.model,)
            into = sums.setdefault(group, dict.fromkeys(families, 0.0))
            for name in families:
                into[name] += float(getattr(row, name))
        for group, values in sorted(sums.items()):
            for name, family in families.items():
                family.add_metric(list(group), values[name])
        yield from families.values()

    def _restarts(self) -> Metric:
        restarts = CounterMetricFamily(
            "editserve_worker_restarts",
            "Worker processes replaced after an unexpected exit (a crash or the watchdog).",
            labels=["host"] if self.details else [],
        )
        by_host = self.store.worker_restarts()
        if not self.details:
            restarts.add_metric([], sum(by_host.values()))
            return restarts
        for host, count in sorted(by_host.items()):
            restarts.add_metric([host], count)
        return restarts

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
            labels=["model", "worker", "device"] if self.details else ["model", "device"],
        )
        swaps = CounterMetricFamily(
            "editserve_model_swaps",
            "Times a live worker unloaded one model to load another (EDITSERVE_MODELS).",
            labels=["worker"] if self.details else [],
        )
        holding = [w for w in live if w.model and w.state is not WorkerState.STOPPED]
        if self.details:
            for worker in holding:
                loaded.add_metric([str(worker.model), worker.id, worker.device], 1)
            for worker in live:
                swaps.add_metric([worker.id], worker.swaps)
        else:
            counts = Counter((str(w.model), w.device) for w in holding)
            for (model, device), count in sorted(counts.items()):
                loaded.add_metric([model, device], count)
            swaps.add_metric([], sum(w.swaps for w in live))
        yield loaded
        yield swaps


class StoreMetrics:
    """What /metrics serves."""

    def __init__(self, store: MetricsStore, registry: ModelRegistry) -> None:
        self._collectors = {
            details: StoreCollector(store, registry, details) for details in (True, False)
        }

    async def render(self, *, details: bool = True) -> bytes:
        """The Prometheus text exposition of the store's state, read now; without
        ``details``, no worker or host labels (summed over them)."""
        metrics = CollectorRegistry()
        metrics.register(self._collectors[details])
        return await to_thread.run_sync(generate_latest, metrics)
