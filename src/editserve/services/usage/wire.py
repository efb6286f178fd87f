"""GET /api/ai/usage's answer (pydantic: the OpenAPI schema and the response)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RunUsage(BaseModel):
    """What a worker's run of a generation cost (GET /api/ai/usage sums these)."""

    gpu_seconds: float = Field(
        description="Worker seconds: its share of a batched pipeline call, plus its storing."
    )
    output_megapixels: float = Field(description="Megapixels of its outputs (0 if none).")


class UsageFigures(BaseModel):
    generations: int = Field(description="Generations a worker finished (any end).")
    succeeded: int
    gpu_seconds: float = Field(description="Worker seconds they took.")
    output_megapixels: float
    cost: float | None = Field(
        description="From the operator's price table (EDITSERVE_PRICES); null without one."
    )


class UsageRow(UsageFigures):
    """One group: it has the one of day, model and key it is grouped by."""

    day: str | None = Field(
        default=None, exclude_if=lambda v: v is None, description="YYYY-MM-DD (UTC), group_by=day"
    )
    model: str | None = Field(
        default=None, exclude_if=lambda v: v is None, description="group_by=model"
    )
    key: str | None = Field(
        default=None, exclude_if=lambda v: v is None, description="group_by=key (admin)"
    )


class QuotaView(BaseModel):
    weight: float = Field(description="The key's share of the workers when keys wait together.")
    max_running: int = Field(description="Generations queued or running at once (429 above).")
    running: int = Field(description="The key's generations queued or running now.")
    gpu_seconds_per_day: float | None = Field(
        description="Worker seconds in any 24 hours (429 above); null: no limit."
    )
    gpu_seconds_last_24h: float


class UsageReport(BaseModel):
    from_: str = Field(alias="from", description="Start (UTC, ISO 8601), by the hour.")
    to: str = Field(description="End (UTC, ISO 8601), exclusive.")
    group_by: str
    key: str = Field(description="The key reported on, or 'all'.")
    currency: str | None
    rows: list[UsageRow]
    total: UsageFigures
    quotas: QuotaView | None = Field(description="The key's quotas (null for key=all).")

    model_config = {"populate_by_name": True}


__all__ = ["RunUsage", "QuotaView", "UsageFigures", "UsageReport", "UsageRow"]
