"""GET /metrics: Prometheus metrics read from the store at scrape time (no auth)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from editserve.api.services import services
from editserve.generations.record import Status
from editserve.readiness import WORKER_FRESH_SECONDS
from editserve.store.base import Store

router = APIRouter(tags=["health"])


class StoreCollector(Collector):
    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        generations = GaugeMetricFamily(
            "editserve_generations",
            "Generations by model and status (all keys).",
            labels=["model", "status"],
        )
        counts = self.store.status_counts()
        models = {model for model, _ in counts} or {"qwen-image-edit-plus"}
        for model in sorted(models):
            for status in Status:
                generations.add_metric([model, status.value], counts.get((model, status.value), 0))
        yield generations
        workers = GaugeMetricFamily(
            "editserve_workers", "Live worker processes by state.", labels=["state"]
        )
        states: dict[str, int] = {}
        for worker in self.store.list_workers(WORKER_FRESH_SECONDS):
            states[worker.state] = states.get(worker.state, 0) + 1
        for state in ("starting", "loading", "ready", "busy", "failed", "stopped"):
            workers.add_metric([state], states.get(state, 0))
        yield workers


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    registry = CollectorRegistry()
    registry.register(StoreCollector(services(request).store))
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
