"""GET /api/ai/usage: what the caller's key (an admin: any key, or all) used, by day,
model or key, with its quotas."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Depends, Request

from editserve.api.auth import require_caller, require_key
from editserve.api.context import services
from editserve.api.openapi import ERROR_RESPONSES
from editserve.services.keys import Caller
from editserve.services.usage.wire import UsageReport

router = APIRouter(tags=["usage"], responses=ERROR_RESPONSES)


@router.get("/api/ai/usage", dependencies=[Depends(require_key)], response_model_by_alias=True)
async def usage(request: Request, caller: Caller = Depends(require_caller)) -> UsageReport:
    """Generations finished, worker seconds, output megapixels and cost (null without a
    price table) in [from, to) (dates, ISO 8601 times or unix seconds; default the last 30
    days), grouped by day, model or key (admin)."""
    query = dict(request.query_params)
    return await to_thread.run_sync(services(request).usage.report, caller, query)
