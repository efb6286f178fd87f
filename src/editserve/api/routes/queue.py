"""POST/GET /api/ai/queue, GET/DELETE /api/ai/queue/{id}: the async queue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.concurrency import run_in_threadpool

from editserve.api.auth import require_key
from editserve.api.body import json_body
from editserve.api.openapi import request_body_doc
from editserve.api.services import AppServices, base_url, services, url_builder
from editserve.errors import InvalidParams
from editserve.generations.record import ACTIVE, Generation, Status
from editserve.generations.service import QueueEnvelope
from editserve.generations.views import generation_view

router = APIRouter(tags=["queue"])


async def submit(
    request: Request,
    owner: str,
    body: Any,
    envelope_type: type,
    idempotency_key: str | None,
) -> list[Generation]:
    """Validate, fetch the inputs and enqueue: shared by the queue and the sync edit."""
    svc = services(request)
    validated = svc.generations.validate(body, envelope_type)
    existing = await run_in_threadpool(
        svc.generations.existing_for_idempotency_key,
        owner,
        idempotency_key,
        validated.request_hash,
    )
    if existing is not None:
        return existing
    wanted = getattr(validated.envelope, "num_generations", 1)
    await run_in_threadpool(svc.generations.check_capacity, owner, wanted)
    refs: list[str] = validated.params.input_image  # type: ignore[attr-defined]
    stored = await svc.inputs.resolve(refs, owner, base_urls=_own_base_urls(request, svc))
    return await run_in_threadpool(
        svc.generations.enqueue,
        owner,
        validated,
        [item.to_dict() for item in stored],
        num_generations=wanted,
        idempotency_key=idempotency_key,
    )


def _own_base_urls(request: Request, svc: AppServices) -> list[str]:
    urls = {str(request.base_url).rstrip("/"), base_url(request)}
    return sorted(urls)


def parse_statuses(status: str | None) -> list[Status] | None:
    if status is None:
        return None
    result = []
    for part in status.split(","):
        try:
            result.append(Status(part.strip()))
        except ValueError:
            allowed = "|".join(s.value for s in Status)
            raise InvalidParams(f"status: must be one of {allowed}, got {part!r}") from None
    return result


def check_media_type(media_type: str | None) -> None:
    if media_type is not None and media_type != "image":
        raise InvalidParams("media_type: only 'image' is served here")


async def render(request: Request, gens: list[Generation]) -> list[dict[str, Any]]:
    svc = services(request)
    urls = url_builder(request)

    def work() -> list[dict[str, Any]]:
        eta_seconds = svc.generations.eta_estimator()
        views = []
        for gen in gens:
            position = svc.store.queue_position(gen) if gen.status is Status.QUEUED else None
            eta = eta_seconds(gen, position)
            views.append(generation_view(gen, urls, queue_position=position, eta_seconds=eta))
        return views

    return await run_in_threadpool(work)


@router.post("/api/ai/queue", openapi_extra=request_body_doc("QueueRequest"))
async def enqueue(
    request: Request,
    owner: str = Depends(require_key),
    idempotency_key: str | None = Header(default=None),
) -> dict[str, Any]:
    """Enqueue 1-4 generations; inputs are fetched and validated now."""
    body = await json_body(request)
    gens = await submit(request, owner, body, QueueEnvelope, idempotency_key)
    return {"generations": [{"generation_id": g.id, "status": g.status.value} for g in gens]}


@router.get("/api/ai/queue")
async def list_queue(
    request: Request,
    owner: str = Depends(require_key),
    status: str | None = Query(
        default=None, description="queued|processing|succeeded|failed|cancelled"
    ),
    model: str | None = Query(default=None),
    media_type: str | None = Query(default=None),
) -> dict[str, Any]:
    """The caller's active generations (or those of the given status)."""
    check_media_type(media_type)
    statuses = parse_statuses(status) or list(ACTIVE)
    svc = services(request)
    model_id = svc.registry.get(model).id if model else None
    gens, total = await run_in_threadpool(
        lambda: svc.store.list_generations(
            owner, statuses=statuses, model=model_id, limit=1000, newest_first=False
        )
    )
    return {"count": total, "generations": await render(request, gens)}


@router.get("/api/ai/queue/{generation_id}")
async def get_generation(
    request: Request, generation_id: str, owner: str = Depends(require_key)
) -> dict[str, Any]:
    """One generation, with progress, queue position and the seed used."""
    gen = await run_in_threadpool(services(request).generations.get, owner, generation_id)
    return (await render(request, [gen]))[0]


@router.delete("/api/ai/queue/{generation_id}")
async def cancel_generation(
    request: Request, generation_id: str, owner: str = Depends(require_key)
) -> dict[str, Any]:
    """Cancel: queued stops at once, processing at the next denoising step."""
    gen = await run_in_threadpool(services(request).generations.cancel, owner, generation_id)
    return {
        "status": "success",
        "generation_id": gen.id,
        "generation_status": gen.status.value,
        "cancel_requested": gen.cancel_requested,
    }
