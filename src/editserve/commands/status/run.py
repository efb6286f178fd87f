"""What ``editserve status`` runs: the fleet as the store sees it — models, workers,
devices, start-up stages, queue depth — once, or refreshed (``--watch``).

It reads the store directly (as ``editserve keys`` does), not the API: it needs no API key,
works on a GPU host that runs only workers and while no API node is up (the moments you want
it most), and sees what the per-key API does not show: every key's queue and every worker,
including the ones whose heartbeat stopped.
"""

from __future__ import annotations

import json
import time
from typing import Any

from editserve.core.settings import Settings
from editserve.domain.record import Status
from editserve.models.registry import ModelRegistry, served_registry
from editserve.services.catalog import WORKER_FRESH_SECONDS, readiness_of, stage_of, worker_stage
from editserve.store import Store
from editserve.store.rows import WorkerRow, WorkerState

# Workers gone for longer than this are left out (a restart leaves its old row behind).
GONE_SHOWN_SECONDS = 600.0


def snapshot(store: Store, registry: ModelRegistry | None = None) -> dict[str, Any]:
    """Everything `status` shows, as JSON-able data."""
    registry = registry or served_registry(Settings())
    live = store.list_workers(WORKER_FRESH_SECONDS)
    live_ids = {worker.id for worker in live}
    recent = store.list_workers(GONE_SHOWN_SECONDS)
    counts = store.status_counts()
    models = []
    for spec in registry.all():
        readiness = readiness_of(spec, live)
        models.append(
            {
                "model": spec.id,
                "readiness": readiness.readiness,
                "stage": readiness.stage,
                "stage_text": readiness.stage_text,
                "reason": readiness.readiness_reason,
                "workers": readiness.workers.model_dump(),
                "queued": counts.get((spec.id, Status.QUEUED.value), 0),
                "processing": counts.get((spec.id, Status.PROCESSING.value), 0),
            }
        )
    workers = [_worker(worker, worker.id in live_ids) for worker in recent]
    return {"time": time.time(), "models": models, "workers": workers}


def _worker(worker: WorkerRow, live: bool) -> dict[str, Any]:
    stage = worker_stage(worker)
    details = (worker.weights or {}).get("details") or {}
    stopped = worker.state is WorkerState.STOPPED
    state = worker.state.value if live or stopped else "gone"
    return {
        "id": worker.id,
        "host": worker.host,
        "pid": worker.pid,
        "model": worker.model,
        "device": worker.device,
        "gpu": details.get("cuda_device_name"),
        "state": state,
        "stage": stage_of(worker),
        "stage_detail": stage.stage_detail,
        "stage_text": "stopped" if stopped else stage.stage_text,
        "error": worker.error if worker.state is WorkerState.FAILED else None,
        "heartbeat_age": round(max(0.0, time.time() - worker.heartbeat_at), 1),
    }


def render(data: dict[str, Any]) -> Any:
    """The snapshot as rich tables (models, then workers)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    models = Table(title="Models", title_justify="left")
    for column in ("MODEL", "READINESS", "STAGE", "WORKERS", "QUEUED", "RUNNING"):
        models.add_column(column, no_wrap=column != "STAGE")
    for model in data["models"]:
        workers = model["workers"]
        stage = model["stage_text"] or "-"
        if model["reason"]:
            stage = f"{stage}: {model['reason']}" if stage != "-" else model["reason"]
        models.add_row(
            model["model"],
            Text(model["readiness"], style=_STYLE.get(model["readiness"], "")),
            stage,
            f"{workers['ready']}/{workers['total']} ready",
            str(model["queued"]),
            str(model["processing"]),
        )
    workers = Table(title="Workers", title_justify="left")
    for column in ("WORKER", "DEVICE", "STATE", "STAGE", "HEARTBEAT"):
        workers.add_column(column, no_wrap=column != "STAGE")
    for worker in data["workers"]:
        device = worker["device"] + (f" ({worker['gpu']})" if worker["gpu"] else "")
        workers.add_row(
            worker["id"],
            device,
            Text(worker["state"], style=_STYLE.get(worker["state"], "")),
            worker["stage_text"],
            f"{worker['heartbeat_age']:.0f}s ago",
        )
    if not data["workers"]:
        workers.add_row("-", "-", "none", "no worker has reported in the last 10 minutes", "-")
    return Group(models, workers)


_STYLE = {
    "ready": "green",
    "busy": "green",
    "loading": "yellow",
    "starting": "yellow",
    "failed": "red",
    "no_workers": "red",
    "gone": "dim",
    "stopped": "dim",
}


def run_status(
    store: Store,
    *,
    watch: bool,
    interval: float,
    as_json: bool,
    registry: ModelRegistry | None = None,
) -> int:
    """Print once, or refresh every `interval` seconds until Ctrl-C."""
    from rich.console import Console

    console = Console()
    if not watch:
        data = snapshot(store, registry)
        if as_json:
            print(json.dumps(data, indent=2))
        else:
            console.print(render(data))
        return 0
    try:
        if as_json:  # one JSON document per line, for scripts that follow it
            while True:
                print(json.dumps(snapshot(store, registry)), flush=True)
                time.sleep(interval)
        from rich.live import Live

        with Live(render(snapshot(store, registry)), console=console, refresh_per_second=4) as live:
            while True:
                time.sleep(interval)
                live.update(render(snapshot(store, registry)))
    except KeyboardInterrupt:
        return 0


__all__ = ["render", "run_status", "snapshot"]
