"""Readiness shows the start-up stage the workers report: the furthest one while loading,
a ready worker's once one is ready, the failure's reason when all failed."""

from __future__ import annotations

import time

from editserve.models.registry import default_registry
from editserve.services.catalog import readiness_of
from editserve.services.wire import ReadyResponse
from editserve.store.rows import WorkerRow, WorkerState

SPEC = default_registry().default


def row(
    worker_id: str, state: WorkerState, stage: str | None = None, **fields: object
) -> WorkerRow:
    now = time.time()
    return WorkerRow(
        id=worker_id,
        host="h",
        pid=1,
        device="cuda:0",
        state=state,
        started_at=now,
        heartbeat_at=now,
        model=SPEC.id,
        stage=stage,
        **fields,  # type: ignore[arg-type]
    )


def test_while_loading_the_furthest_worker_leads() -> None:
    workers = [
        row(
            "a",
            WorkerState.LOADING,
            "downloading",
            stage_detail={"bytes_done": 10, "bytes_total": 100},
        ),
        row(
            "b",
            WorkerState.LOADING,
            "downloading",
            stage_detail={"bytes_done": 60, "bytes_total": 100},
        ),
        row(
            "c",
            WorkerState.FAILED,
            "failed",
            stage_detail={"reason": "CUDA out of memory"},
            error="CUDA out of memory",
        ),
    ]
    readiness = readiness_of(SPEC, workers)
    assert readiness.readiness == "loading"
    assert readiness.stage == "downloading"
    assert readiness.stage_detail == {"bytes_done": 60, "bytes_total": 100}
    assert readiness.stage_text == "downloading 60 B of 100 B (60%)"
    assert [(s.worker_id, s.stage) for s in readiness.worker_stages] == [
        ("a", "downloading"),
        ("b", "downloading"),
        ("c", "failed"),
    ]
    assert readiness.worker_stages[2].stage_text == "failed: CUDA out of memory"

    workers[0] = row(
        "a",
        WorkerState.LOADING,
        "loading",
        stage_detail={"component": "vae", "index": 1, "count": 6},
    )
    assert readiness_of(SPEC, workers).stage == "loading"  # a later stage leads


def test_a_ready_worker_makes_the_model_ready() -> None:
    workers = [
        row("a", WorkerState.LOADING, "warming_up", stage_detail={"run": 1, "runs": 2}),
        row("b", WorkerState.BUSY, "ready", stage_detail={"seconds": 31.0}),
    ]
    readiness = readiness_of(SPEC, workers)
    assert (readiness.readiness, readiness.stage, readiness.stage_text) == (
        "ready",
        "ready",
        "ready in 31s",
    )


def test_when_all_failed_the_reason_is_the_stage() -> None:
    readiness = readiness_of(SPEC, [row("a", WorkerState.FAILED, "failed", error="no space left")])
    assert readiness.readiness == "failed" and readiness.readiness_reason == "no space left"
    assert readiness.stage == "failed" and readiness.stage_text == "failed: no space left"


def test_workers_without_a_reported_stage_get_one_from_their_state() -> None:
    readiness = readiness_of(
        SPEC, [row("old", WorkerState.LOADING), row("gone", WorkerState.STOPPED, "ready")]
    )
    assert readiness.stage == "loading" and len(readiness.worker_stages) == 1
    assert readiness_of(SPEC, []).stage is None


def test_the_stage_is_on_the_wire_and_left_out_when_there_is_none() -> None:
    loading = readiness_of(
        SPEC,
        [
            row(
                "a",
                WorkerState.LOADING,
                "downloading",
                stage_detail={"bytes_done": 1, "bytes_total": 4},
            )
        ],
    )
    body = ReadyResponse(status="not_ready", models={SPEC.id: loading}).model_dump(mode="json")
    model = body["models"][SPEC.id]
    assert model["stage"] == "downloading" and model["stage_detail"]["bytes_total"] == 4
    assert model["worker_stages"][0]["stage_text"] == "downloading 1 B of 4 B (25%)"
    empty = ReadyResponse(status="not_ready", models={SPEC.id: readiness_of(SPEC, [])}).model_dump(
        mode="json"
    )
    assert (
        "stage" not in empty["models"][SPEC.id] and empty["models"][SPEC.id]["worker_stages"] == []
    )
