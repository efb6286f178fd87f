"""POST /api/ai/batches and the reads of a batch.

A submission is checked whole before anything is stored: every item is validated as an
ordinary queue request, and its pictures fetched and checked — each distinct reference
once, however many items name it. If any item is refused, the whole batch is (a 400 naming
up to 20 items by index and field): a batch is one unit with one manifest, and a batch
that ran in part would leave the caller to work out which part; fixing the named items and
submitting again gives one clean batch. Then the batch and its items are inserted in one
transaction. Items run at the batch's priority (default -10, below every interactive
request), in the key's fair share.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence

import anyio
from anyio import to_thread

from editserve.blobs.base import BlobStorage
from editserve.blobs.links import UrlFor
from editserve.core.errors import (
    Conflict,
    EditserveError,
    InvalidParams,
    NotFound,
    RateLimited,
)
from editserve.core.settings import Settings
from editserve.domain.record import Generation
from editserve.inputs.resolver import FetchedInput
from editserve.net.webhook_targets import check_target
from editserve.services.batches import results
from editserve.services.batches.requests import BatchSubmission, parse_submission
from editserve.services.batches.views import BatchList, BatchView, batch_view
from editserve.services.generations.requests import (
    QueueEnvelope,
    ValidatedRequest,
    request_hash,
)
from editserve.services.generations.service import GenerationService
from editserve.services.generations.views import estimated_seconds
from editserve.store import BatchStore
from editserve.store.batches import BatchRow

MAX_REPORTED = 20  # item errors named in one refusal
FETCH_CONCURRENCY = 8
ITEM_FIELDS_REFUSED = ("webhook", "webhook_events_filter")


class BatchService:
    def __init__(
        self,
        settings: Settings,
        store: BatchStore,
        generations: GenerationService,
        storage: BlobStorage,
    ) -> None:
        self.settings = settings
        self.store = store
        self.generations = generations
        self.storage = storage

    async def submit(
        self,
        owner: str,
        raw: bytes,
        content_type: str,
        query: dict[str, str],
        *,
        idempotency_key: str | None,
        base_urls: Sequence[str],
    ) -> BatchView:
        submission = parse_submission(raw, content_type, query)
        hashed = request_hash(submission.hashed)
        if idempotency_key:
            found = await to_thread.run_sync(
                self.store.batch_by_idempotency_key, owner, idempotency_key
            )
            if found is not None:
                return _replayed(found, hashed)
        await to_thread.run_sync(self._check_quotas, owner, len(submission.items))
        requests = self._validated(submission)
        webhook = await self._webhook(submission.webhook)
        fetched = await self._fetch_all(owner, requests, base_urls)
        gens = await self._generations(owner, submission, requests, fetched)
        batch = BatchRow(
            id="batch_" + uuid.uuid4().hex, owner=owner, status="running", total=len(gens),
            priority=submission.priority, created_at=time.time(), webhook=webhook,
            metadata=submission.metadata, request_hash=hashed, idempotency_key=idempotency_key,
        )  # fmt: skip
        for gen in gens:
            gen.batch_ref = batch.id
        costs = estimated_seconds(gens)
        await to_thread.run_sync(lambda: self.store.insert_batch(batch, gens, costs=costs))
        return batch_view(batch)

    # --- checks --------------------------------------------------------------------------
    def _check_quotas(self, owner: str, wanted: int) -> None:
        backlog = self.store.batch_backlog(owner)
        limit = self.settings.max_batch_items_per_key
        if backlog + wanted > limit:
            raise RateLimited(
                f"quota batch_items: this key has {backlog} batch items waiting or running "
                f"and asks for {wanted} more (limit {limit}, EDITSERVE_MAX_BATCH_ITEMS_PER_KEY)",
                retry_after=60,
            )
        self.generations.usage.check_enqueue(owner)

    def _validated(self, submission: BatchSubmission) -> list[ValidatedRequest]:
        requests, problems = [], []
        for index, item in enumerate(submission.items):
            body = {name: value for name, value in item.items() if name != "custom_id"}
            try:
                for name in ITEM_FIELDS_REFUSED:
                    if name in body:
                        raise InvalidParams(f"{name}: a batch has one webhook: set it on the batch")
                request = self.generations.validate(body, QueueEnvelope)
                if request.num_generations != 1:
                    raise InvalidParams("num_generations: one generation per batch item")
                requests.append(request)
            except InvalidParams as exc:
                problems.append(f"requests[{index}].{exc.detail}")
        _refuse(problems, len(submission.items))
        return requests

    async def _webhook(self, url: str | None) -> str | None:
        if url is None:
            return None
        return await check_target(url, self.generations.inputs_policy(), field="webhook")

    # --- inputs --------------------------------------------------------------------------
    async def _fetch_all(
        self, owner: str, requests: list[ValidatedRequest], base_urls: Sequence[str]
    ) -> dict[str, FetchedInput]:
        """Each distinct picture reference fetched and checked once (a few at a time)."""
        first_use: dict[str, str] = {}
        for index, request in enumerate(requests):
            for number, ref in enumerate(request.input_refs):
                first_use.setdefault(ref, f"requests[{index}].input_image[{number}]")
        fetched: dict[str, FetchedInput] = {}
        problems: list[str] = []
        limiter = anyio.CapacityLimiter(FETCH_CONCURRENCY)
        resolver = self.generations.resolver()

        async def one(ref: str, where: str) -> None:
            async with limiter:
                try:
                    [fetched[ref]] = await resolver.fetch([ref], owner, base_urls=base_urls)
                except EditserveError as exc:
                    problems.append(f"{where}: {exc.detail.partition(': ')[2] or exc.detail}")

        async with anyio.create_task_group() as group:
            for ref, where in first_use.items():
                group.start_soon(one, ref, where)
        _refuse(sorted(problems), len(requests))
        return fetched

    async def _generations(
        self,
        owner: str,
        submission: BatchSubmission,
        requests: list[ValidatedRequest],
        fetched: dict[str, FetchedInput],
    ) -> list[Generation]:
        resolver = self.generations.resolver()
        stored = dict(zip(fetched, await resolver.store(list(fetched.values())), strict=True))
        gens: list[Generation] = []
        for index, request in enumerate(requests):
            items = [fetched[ref] for ref in request.input_refs]
            if request.mask_ref is not None or request.control_ref is not None:
                items = await resolver.fetch(  # a mask is checked against its own Picture 1
                    request.input_refs,
                    owner,
                    base_urls=[],
                    mask=request.mask_ref,
                    control=request.control_ref,
                )
                inputs = await resolver.store(items)
            else:
                inputs = [stored[ref] for ref in request.input_refs]
            size = request.spec.plan_size(
                request.params, [item.size for item in items], self.settings
            )
            [gen] = self.generations.new_generations(owner, request, inputs, size, None)
            gen.priority, gen.batch_item = submission.priority, index
            gen.custom_id = submission.custom_ids[index]
            gens.append(gen)
        return gens

    # --- reads ---------------------------------------------------------------------------
    def get(self, owner: str, batch_id: str) -> BatchView:
        return batch_view(self.owned(owner, batch_id))

    def list(self, owner: str, limit: int, before: str | None) -> BatchList:
        if not 1 <= limit <= 100:
            raise InvalidParams("limit: must be 1-100")
        after = None
        if before:
            found = self.store.get_batch(before, owner)
            if found is None:
                raise InvalidParams(f"before: no batch {before!r}")
            after = (found.created_at, found.id)
        rows = self.store.list_batches(owner, limit, after)
        more = rows[-1].id if len(rows) == limit else None
        return BatchList(data=[batch_view(row) for row in rows], next_before=more)

    def cancel(self, owner: str, batch_id: str) -> BatchView:
        self.owned(owner, batch_id)
        cancelled = self.store.cancel_batch(batch_id, owner)
        assert cancelled is not None
        return batch_view(cancelled)

    def manifest(self, owner: str, batch_id: str, url_for: UrlFor) -> Iterator[bytes]:
        """The manifest's lines (the batch checked now, its items read as sent)."""
        return results.manifest(self.store, self.owned(owner, batch_id), url_for)

    def zip(self, owner: str, batch_id: str, url_for: UrlFor) -> tuple[str, Iterator[bytes]]:
        """The zip's file name and its bytes as they are written."""
        batch = self.owned(owner, batch_id)
        return f"{batch.id}.zip", results.zip_stream(self.store, self.storage, batch, url_for)

    def owned(self, owner: str, batch_id: str) -> BatchRow:
        batch = self.store.get_batch(batch_id, owner)
        if batch is None:
            raise NotFound(f"Batch not found: {batch_id}")
        return batch


def _refuse(problems: list[str], total: int) -> None:
    if not problems:
        return
    shown = "; ".join(problems[:MAX_REPORTED])
    more = f"; and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
    raise InvalidParams(
        f"{shown}{more} ({len(problems)} of {total} requests refused; nothing was stored: "
        "fix them and submit the batch again)"
    )


def _replayed(batch: BatchRow, hashed: str) -> BatchView:
    if batch.request_hash != hashed:
        raise Conflict(
            "Idempotency-Key: this key was already used with a different batch",
            title="Idempotency key reused",
        )
    return batch_view(batch)


__all__ = ["BatchService"]
