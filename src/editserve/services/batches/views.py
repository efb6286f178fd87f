"""What the batch calls answer (pydantic: the OpenAPI schema and the response)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from editserve.store.batches import BatchRow


class BatchCounts(BaseModel):
    total: int
    queued: int
    processing: int
    succeeded: int
    failed: int
    cancelled: int


class BatchView(BaseModel):
    id: str
    object: Literal["batch"] = "batch"
    status: str = Field(description="running, completed (every item ended) or cancelled.")
    counts: BatchCounts
    progress: float = Field(description="Items ended / total, 0-1.")
    priority: int
    created_at: int
    finished_at: int | None
    cancel_requested: bool
    metadata: dict[str, Any] | None
    results_url: str = Field(description="The manifest: one JSON line per item, in order.")
    zip_url: str = Field(description="Every item's output, and the manifest, in one zip.")


class BatchList(BaseModel):
    object: Literal["list"] = "list"
    data: list[BatchView]
    next_before: str | None = Field(description="Pass as before= for older batches.")


def batch_view(batch: BatchRow) -> BatchView:
    base = f"/api/ai/batches/{batch.id}"
    return BatchView(
        id=batch.id,
        status=batch.status,
        counts=BatchCounts(
            total=batch.total,
            queued=batch.queued,
            processing=batch.processing,
            succeeded=batch.succeeded,
            failed=batch.failed,
            cancelled=batch.cancelled,
        ),  # fmt: skip
        progress=round(batch.ended / batch.total, 4) if batch.total else 1.0,
        priority=batch.priority,
        created_at=int(batch.created_at),
        finished_at=int(batch.finished_at) if batch.finished_at is not None else None,
        cancel_requested=batch.cancel_requested,
        metadata=batch.metadata,
        results_url=base + "/results",
        zip_url=base + "/zip",
    )


__all__ = ["BatchCounts", "BatchList", "BatchView", "batch_view"]
