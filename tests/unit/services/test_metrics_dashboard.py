"""/metrics of a real in-process app, and the example Grafana dashboard checked against it:
every metric a panel queries, and every label it groups or filters by, is in a scrape."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from editserve.api.app import build_services, create_app
from editserve.core.settings import Settings
from editserve.services.keys import create_key
from editserve.store import Store
from editserve.store.rows import WorkerRow, WorkerState

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "editserve.json"
MODEL = "qwen-image-edit-plus"


def seed(store: Store) -> None:
    """What a running fleet leaves in the store: workers (one replaced), stage timings."""
    now = time.time()
    for worker_id, state in (("w0-a", WorkerState.READY), ("w0-b", WorkerState.BUSY)):
        store.upsert_worker(
            WorkerRow(worker_id, "h1", 1, "cpu", state, now, now, model=MODEL, swaps=1)
        )
    store.record_worker_restart("w0-a")
    for total in (0.2, 0.7, 3.0):
        store.record_stage_timings(
            MODEL, {"queue_wait": 0.01, "denoise": total / 2, "total": total}
        )


@pytest.fixture
async def scrape(tmp_path: Path) -> AsyncIterator[str]:
    settings = Settings(data_dir=tmp_path)
    services = build_services(settings)
    seed(services.store)
    transport = httpx.ASGITransport(app=create_app(settings, services))
    # the dashboard's per-host and per-worker panels need a scrape with a key
    key = create_key(services.store, "prometheus").secret
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200
        yield response.text


def samples(text: str) -> dict[str, set[str]]:
    """Sample name -> the label names it carries, from a scrape."""
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return found


def queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 8
    return exprs


async def test_every_dashboard_query_names_metrics_and_labels_of_a_scrape(scrape: str) -> None:
    scraped = samples(scrape)
    for expr in queries():
        names = set(re.findall(r"\beditserve_[a-z_]+\b", expr))
        assert names, expr
        missing = names - scraped.keys()
        assert not missing, f"{expr}: {sorted(missing)} not in /metrics ({sorted(scraped)})"
        labels: set[str] = set()
        for group in re.findall(r"\bby \(([^)]*)\)", expr):
            labels.update(label.strip() for label in group.split(","))
        for selector in re.findall(r"\{([^}]*)\}", expr):
            labels.update(re.findall(r"([a-z_]+)\s*=~?", selector))
        carried = set().union(*(scraped[name] for name in names))
        assert labels <= carried, f"{expr}: labels {sorted(labels - carried)} not carried"
        for values in re.findall(r'status=~"([^"]+)"', expr):
            statuses = {m.group(1) for m in re.finditer(r'status="([a-z]+)"', scrape)}
            assert set(values.split("|")) <= statuses, expr


async def test_stage_latency_is_a_cumulative_histogram(scrape: str) -> None:
    stage = f'model="{MODEL}",stage="total"'
    assert f"editserve_stage_seconds_count{{{stage}}} 3.0" in scrape
    assert f"editserve_stage_seconds_sum{{{stage}}} 3.9" in scrape
    assert f'editserve_stage_seconds_bucket{{le="0.25",{stage}}} 1.0' in scrape
    assert f'editserve_stage_seconds_bucket{{le="1.0",{stage}}} 2.0' in scrape
    assert f'editserve_stage_seconds_bucket{{le="+Inf",{stage}}} 3.0' in scrape
    assert 'editserve_worker_restarts_total{host="h1"} 1.0' in scrape
    assert 'editserve_generations{model="qwen-image-edit-plus",status="queued"} 0.0' in scrape
    assert 'editserve_workers{state="busy"} 1.0' in scrape
