"""The generation service: every use case of the API, between HTTP and the store.

An enqueue reads one way: validate the body → replay an idempotent retry → check the key's
capacity → fetch and check the inputs → size the output (refusing inputs the model cannot
take) → store the inputs → insert the generations. Routes parse, call one method here and
return what it gives back (a protocol model).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Mapping, Sequence

from anyio import to_thread

from editserve.blobs.base import BlobStorage
from editserve.core.errors import (
    Conflict,
    GenerationCancelledError,
    GenerationFailed,
    InvalidParams,
    NotFound,
    RateLimited,
)
from editserve.core.settings import Settings
from editserve.domain.record import ACTIVE, Generation, Status
from editserve.inputs.resolver import InputResolver, StoredInput
from editserve.models.registry import ModelRegistry
from editserve.models.spec import KIND_ENDPOINTS, SizePlan
from editserve.net.ssrf import HostPolicy
from editserve.net.webhook_targets import choose_webhook
from editserve.services.events.feed import EventFeed
from editserve.services.generations.lineage import LineageView, lineage_view
from editserve.services.generations.requests import (
    Envelope,
    QueueEnvelope,
    ValidatedRequest,
    validate_request,
)
from editserve.services.generations.sweeps import SWEEP_KEY, generation_params
from editserve.services.generations.views import GenerationViews, estimated_seconds
from editserve.services.usage.prices import PriceTable
from editserve.services.usage.report import UsageService
from editserve.services.wire import (
    CancelResponse,
    Enqueued,
    EnqueueResponse,
    GenerationResponse,
    GenerationView,
    HistoryPage,
    QueueList,
    UrlFor,
)
from editserve.store import GenerationStore, QueueFull

# GET /api/ai/queue lists every active generation of a key, up to this many.
ACTIVE_LIST_LIMIT = 1000


class GenerationService:
    def __init__(
        self,
        settings: Settings,
        store: GenerationStore,
        registry: ModelRegistry,
        inputs: InputResolver | None = None,
        storage: BlobStorage | None = None,
        usage: UsageService | None = None,
    ) -> None:
        self.settings = settings
        self.usage = usage or UsageService(settings, store, PriceTable({}, settings.price_currency))
        self.store = store
        self.registry = registry
        self.inputs = inputs
        self.storage = storage
        self.views = GenerationViews(store)
        self.feed = EventFeed(store, settings)

    # --- submitting ----------------------------------------------------------------------
    def validate(
        self,
        body: object,
        envelope_type: type[Envelope],
        endpoints: Mapping[str, str] = KIND_ENDPOINTS,
    ) -> ValidatedRequest:
        """The request's envelope and model parameters, or InvalidParams."""
        return validate_request(body, envelope_type, self.registry, self.settings, endpoints)

    async def submit(
        self,
        owner: str,
        body: object,
        envelope_type: type[Envelope],
        *,
        idempotency_key: str | None,
        base_urls: Sequence[str],
        endpoints: Mapping[str, str] = KIND_ENDPOINTS,
    ) -> list[Generation]:
        """Validate, check capacity, fetch and check inputs, store them, enqueue.
        ``endpoints`` words the refusal of a model of the wrong kind for the caller's API."""
        request = self.validate(body, envelope_type, endpoints)
        existing = await to_thread.run_sync(
            self._replay, owner, idempotency_key, request.request_hash
        )
        if existing is not None:
            return existing
        await to_thread.run_sync(self._check_capacity, owner, request.num_generations)
        assert self.inputs is not None, "a service that takes requests needs an InputResolver"
        default_webhook = (
            None  # the request names its own: the key's default is not read
            if request.envelope.webhook is not None
            else await to_thread.run_sync(self.store.key_webhook_url, owner)
        )
        webhook = await choose_webhook(
            request.envelope.webhook,
            list(request.envelope.webhook_events_filter),
            default_webhook,
            self.inputs.fetcher.policy,
        )
        fetched = await self.inputs.fetch(
            request.input_refs,
            owner,
            base_urls=base_urls,
            mask=request.mask_ref,
            control=request.control_ref,
        )
        size = request.spec.plan_size(
            request.params, [item.size for item in fetched], self.settings
        )
        stored = await self.inputs.store(fetched)
        gens = self.new_generations(owner, request, stored, size, idempotency_key)
        for gen in gens:
            gen.webhook, gen.webhook_events = webhook.url, webhook.events
        await to_thread.run_sync(self._insert_within_capacity, gens)
        return gens

    async def enqueue(
        self,
        owner: str,
        body: object,
        *,
        idempotency_key: str | None,
        base_urls: Sequence[str],
    ) -> EnqueueResponse:
        """POST /api/ai/queue: 1-4 generations, inputs fetched and checked now."""
        gens = await self.submit(
            owner, body, QueueEnvelope, idempotency_key=idempotency_key, base_urls=base_urls
        )
        return EnqueueResponse(
            generations=[Enqueued(generation_id=g.id, status=g.status) for g in gens]
        )

    async def wait_succeeded(self, gen: Generation, timeout: float) -> Generation:
        """The generation once it succeeded: GenerationFailed (500) or
        GenerationCancelledError (409) if it ended otherwise, GatewayTimeout (504) after
        ``timeout``. What every call that answers with the image waits on."""
        done = await self.feed.wait_until_terminal(gen, timeout)
        extra = {"generation_id": done.id}
        if done.status is Status.FAILED:
            raise GenerationFailed(
                f"generation {done.id} failed: {done.error_message}", extra=extra
            )
        if done.status is Status.CANCELLED:
            raise GenerationCancelledError(f"generation {done.id} was cancelled", extra=extra)
        assert done.result_key is not None
        return done

    # --- reading and cancelling ------------------------------------------------------------
    def resolver(self) -> InputResolver:
        """The input resolver (batches fetch their pictures with it)."""
        assert self.inputs is not None, "a service that takes requests needs an InputResolver"
        return self.inputs

    def inputs_policy(self) -> HostPolicy:
        """Where this server may fetch from (and send webhooks to)."""
        return self.resolver().fetcher.policy

    async def lineage(self, owner: str, generation_id: str, url_for: UrlFor) -> LineageView:
        return await to_thread.run_sync(lineage_view, self.store, owner, generation_id, url_for)

    async def get(self, owner: str, generation_id: str, url_for: UrlFor) -> GenerationView:
        """One generation, with progress, queue position and ETA."""
        gen = await to_thread.run_sync(self._owned, owner, generation_id)
        [view] = await to_thread.run_sync(self.views.render, [gen], url_for)
        return view

    async def get_found(
        self, owner: str, generation_id: str, url_for: UrlFor
    ) -> GenerationResponse:
        """GET /api/ai/generations/{id}: the same view in the history's envelope."""
        return GenerationResponse(generation=await self.get(owner, generation_id, url_for))

    async def list_active(
        self,
        owner: str,
        url_for: UrlFor,
        *,
        status: str | None = None,
        model: str | None = None,
        media_type: str | None = None,
    ) -> QueueList:
        """The key's active generations (or those of the given statuses), oldest first."""
        _check_media_type(media_type)
        statuses = parse_statuses(status) or list(ACTIVE)
        model_id = self.registry.get(model).id if model else None

        def read() -> QueueList:
            gens, total = self.store.list_generations(
                owner,
                statuses=statuses,
                model=model_id,
                limit=ACTIVE_LIST_LIMIT,
                newest_first=False,
            )
            return QueueList(count=total, generations=self.views.render(gens, url_for))

        return await to_thread.run_sync(read)

    async def history(
        self,
        owner: str,
        url_for: UrlFor,
        *,
        page: int,
        page_size: int,
        status: str | None = None,
        model: str | None = None,
        media_type: str | None = None,
    ) -> HistoryPage:
        """All of the key's generations, newest first, one page."""
        _check_media_type(media_type)
        statuses = parse_statuses(status)
        model_id = self.registry.get(model).id if model else None

        def read() -> HistoryPage:
            gens, total = self.store.list_generations(
                owner,
                statuses=statuses,
                model=model_id,
                limit=page_size,
                offset=(page - 1) * page_size,
            )
            return HistoryPage(
                count=len(gens),
                generations=self.views.render(gens, url_for),
                page_number=page,
                page_size=page_size,
                total_entries=total,
                total_pages=math.ceil(total / page_size) if total else 0,
            )

        return await to_thread.run_sync(read)

    async def cancel(self, owner: str, generation_id: str) -> CancelResponse:
        """Queued: cancelled at once. Processing: at the next step. Ended: unchanged."""
        gen = await to_thread.run_sync(self.store.request_cancel, generation_id, owner)
        if gen is None:
            raise NotFound(f"Generation not found: {generation_id}")
        return CancelResponse(
            generation_id=gen.id,
            generation_status=gen.status,
            cancel_requested=gen.cancel_requested,
        )

    # --- helpers ---------------------------------------------------------------------------
    def _owned(self, owner: str, generation_id: str) -> Generation:
        gen = self.store.get_generation(generation_id, owner)
        if gen is None:
            raise NotFound(f"Generation not found: {generation_id}")
        return gen

    def _replay(self, owner: str, key: str | None, req_hash: str) -> list[Generation] | None:
        """The generations a retried request with this Idempotency-Key made, if any."""
        if not key:
            return None
        existing = self.store.by_idempotency_key(owner, key)
        if not existing:
            return None
        if existing[0].request_hash != req_hash:
            raise Conflict(
                "Idempotency-Key: this key was already used with a different request body",
                title="Idempotency key reused",
            )
        return existing

    def _check_capacity(self, owner: str, wanted: int) -> None:
        """Early and cheap, before inputs are fetched: the key's quotas (the insert checks
        max_running again atomically)."""
        active = self.store.count_interactive_active(owner)
        key = self.store.get_key(owner)
        own = key.max_running if key is not None else None
        limit = own if own is not None else self.settings.max_queued_per_key
        if active + wanted > limit:
            raise _queue_full(active, limit, own=own is not None)
        self.usage.check_enqueue(owner)

    # What other submitters (a control-map job, services/control_map.py) call the same way.
    def check_capacity(self, owner: str, wanted: int) -> None:
        self._check_capacity(owner, wanted)

    def insert_within_capacity(self, gens: list[Generation]) -> None:
        self._insert_within_capacity(gens)

    def _insert_within_capacity(self, gens: list[Generation]) -> None:
        """Insert, counting the key's active generations in the same transaction (serialised
        per key), so concurrent enqueues never go over the limit together."""
        costs = estimated_seconds(gens)  # their places in the fair-share order
        try:
            self.store.insert_generations(
                gens, max_active=self.settings.max_queued_per_key, costs=costs
            )
        except QueueFull as full:
            raise _queue_full(full.active, full.limit, own=full.own) from None

    def new_generations(
        self,
        owner: str,
        request: ValidatedRequest,
        inputs: list[StoredInput],
        size: SizePlan,
        idempotency_key: str | None,
    ) -> list[Generation]:
        batch_id, now = str(uuid.uuid4()), time.time()
        gens = []
        cells = generation_params(request.params, request.num_generations, request.sweep, batch_id)
        for index, (params, seed) in enumerate(cells):
            gens.append(
                Generation(
                    id=str(uuid.uuid4()),
                    owner=owner,
                    model=request.spec.id,
                    status=Status.QUEUED,
                    params={**params, "seed": seed},
                    inputs=[item.to_dict() for item in inputs],
                    batch_id=batch_id,
                    batch_index=index,
                    seed=seed,
                    width=size.width,
                    height=size.height,
                    area=size.area,
                    enqueued_at=now,
                    target_namespace=request.envelope.target_namespace,
                    idempotency_key=idempotency_key,
                    request_hash=request.request_hash,
                )
            )
        if request.sweep is not None:  # every cell names them all (a sheet's layout)
            for gen in gens:
                gen.params[SWEEP_KEY]["generation_ids"] = [cell.id for cell in gens]
        return gens


def _queue_full(active: int, limit: int, *, own: bool = False) -> RateLimited:
    """The 429 of a key at its max_running quota (its own, or the server's default)."""
    whose = "this key's quota" if own else "the server's default, EDITSERVE_MAX_QUEUED_PER_KEY"
    return RateLimited(
        f"quota max_running: this key already has {active} queued or running generations "
        f"(limit {limit}: {whose}); retry when some have finished",
        retry_after=10,
    )


def _check_media_type(media_type: str | None) -> None:
    if media_type is not None and media_type != "image":
        raise InvalidParams("media_type: only 'image' is served here")


def parse_statuses(status: str | None) -> list[Status] | None:
    """``queued,processing`` → [Status.QUEUED, Status.PROCESSING]; InvalidParams if unknown."""
    if status is None:
        return None
    result = []
    for part in status.split(","):
        try:
            result.append(Status(part.strip(" ")))
        except ValueError:
            allowed = "|".join(s.value for s in Status)
            raise InvalidParams(f"status: must be one of {allowed}, got {part!r}") from None
    return result
