"""The workers table: each worker's row (host, device, state, model, stage), its
heartbeats, and the list /readyz, the status command and the model cards read."""

from __future__ import annotations

from typing import Any

from editserve.store.dialect import Dialect
from editserve.store.rows import WorkerRow, WorkerState
from editserve.store.statements import json_or_none


class WorkerRows:
    """The workers table of QueueStore (mixed in): rows, heartbeats, start-up stages."""

    dialect: Dialect

    def upsert_worker(self, worker: WorkerRow) -> None:
        self.dialect.rowcount(
            "upsert_worker",
            id=worker.id,
            host=worker.host,
            pid=worker.pid,
            device=worker.device,
            state=WorkerState(worker.state).value,
            model=worker.model,
            weights=json_or_none(worker.weights),
            error=worker.error,
            started_at=worker.started_at,
            heartbeat_at=worker.heartbeat_at,
            stage=worker.stage,
            stage_detail=json_or_none(worker.stage_detail),
            models=json_or_none(worker.models),
            swaps=worker.swaps,
        )

    def worker_heartbeat(self, worker_id: str, state: WorkerState | None = None) -> None:
        value = WorkerState(state).value if state is not None else None
        self.dialect.rowcount("worker_heartbeat", id=worker_id, state=value)

    def report_worker_stage(
        self, worker_id: str, stage: str, detail: dict[str, Any] | None = None
    ) -> None:
        stage_detail = json_or_none(detail)
        self.dialect.rowcount(
            "report_worker_stage", id=worker_id, stage=stage, stage_detail=stage_detail
        )

    def list_workers(self, fresh_within: float | None = None) -> list[WorkerRow]:
        fresh = float(fresh_within) if fresh_within is not None else None
        rows = self.dialect.all("list_workers", fresh_within=fresh)
        return [WorkerRow.from_row(row) for row in rows]


__all__ = ["WorkerRows"]
