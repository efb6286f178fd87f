"""Delivering webhooks from the store's outbox: claim what is due, POST it signed, record.

A delivery row is written in the same transaction as the event it reports, so nothing is
lost when a process dies; a claimed delivery carries a lease that outlasts its attempt's
deadline, so one whose sender died is claimed again after it runs out and one in flight
never is (any API node may send: claims skip each other's rows). A delivery that fails is
retried with exponential backoff until it is older than ``webhook_max_age_seconds``;
receivers deduplicate by ``webhook-id``, which is the same on every attempt.

One slow receiver holds up nobody else: an attempt has one deadline,
``webhook_timeout_seconds``, for connecting, sending and the whole answer; each delivery is
a task of its own in a bounded pool (pool.py: ``webhook_concurrency`` in flight, at most
``webhook_per_owner`` for a key and ``webhook_per_host`` to a host), and the claim loop
claims again whenever a slot frees instead of waiting for a batch to end. Every
connection goes through the SSRF guard (net/ssrf.py ``GuardedTransport``), checked when it
is opened, so a URL that passed at enqueue and resolves somewhere forbidden later is
refused then.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from datetime import UTC, datetime
from functools import partial

import httpx
from anyio import to_thread

from editserve.blobs.links import UrlFor
from editserve.core.settings import Settings
from editserve.domain import webhook_signing as signing
from editserve.domain.events import BATCH_COMPLETED
from editserve.net.fetch import transport_failure
from editserve.net.ssrf import GuardedTransport, HostPolicy
from editserve.services.batches.views import batch_view
from editserve.services.generations.views import GenerationViews
from editserve.services.webhooks.pool import DeliveryPool
from editserve.store import DispatchStore
from editserve.store.rows import DeliveryRow

log = logging.getLogger("editserve.services.webhooks")

# A delivery's lease: its attempt's deadline plus this, for building the body before and
# recording the outcome after (reads and a write of the store).
LEASE_MARGIN_SECONDS = 30.0
FIRST_RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 3600.0
MAX_ANSWER_BYTES = 64 * 1024  # of a receiver's answer read (only its status counts)
USER_AGENT = "editserve-webhooks"


def retry_delay(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: 5 s, 10 s, 20 s … capped at an hour, ±10%."""
    delay = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2.0 ** max(0, attempts - 1))
    return float(delay * random.uniform(0.9, 1.1))


class DeliveryTimeout(TimeoutError):
    """No whole answer within the attempt's deadline."""


class WebhookDispatcher:
    def __init__(self, settings: Settings, store: DispatchStore, url_for: UrlFor) -> None:
        self.settings = settings
        self.store = store
        self.url_for = url_for
        self.views = GenerationViews(store)
        self.policy = HostPolicy(settings.fetch_allow_hosts)
        self.deadline = settings.webhook_timeout_seconds
        self.lease_seconds = self.deadline + LEASE_MARGIN_SECONDS
        self.pool = self._new_pool()

    async def run(self, stop: asyncio.Event) -> None:
        """Send due deliveries until ``stop`` is set: claim whenever a slot is free and
        something is due; when nothing could start, wait for a slot to free or poll."""
        self.pool = self._new_pool()  # of this event loop
        async with self._client() as client:
            try:
                while not stop.is_set():
                    self.pool.changed.clear()
                    try:
                        started = await self._fill(client)
                    except Exception:  # noqa: BLE001 - the loop outlives a bad round
                        log.exception("webhooks: claiming deliveries failed")
                        started = 0
                    if not started:
                        await self._idle(stop)
            finally:
                await self._give_back_in_flight()

    async def run_once(self, client: httpx.AsyncClient | None = None) -> int:
        """Send what is due now, each delivery at most once, and wait until all of them
        ended; return how many were tried."""
        if client is None:
            async with self._client() as own:
                return await self._drain(own)
        return await self._drain(client)

    async def _drain(self, client: httpx.AsyncClient) -> int:
        self.pool, tried = self._new_pool(), set[str]()
        while True:
            self.pool.changed.clear()
            if await self._fill(client, tried):
                continue  # more may be due
            if not len(self.pool):
                return len(tried)
            await self.pool.changed.wait()  # one ended: its slot, or its generation's next

    async def _fill(self, client: httpx.AsyncClient, tried: set[str] | None = None) -> int:
        """Claim as many due deliveries as there are free slots (leaving out what could not
        start), start each as a task, give back the rest; return how many started."""
        free = self.pool.free()
        if free <= 0:
            return 0
        busy = self.pool.busy()
        claim = partial(
            self.store.claim_deliveries,
            free,
            self.lease_seconds,
            busy_owners=busy.owners,
            busy_generations=busy.generations,
            busy_prefixes=busy.prefixes,
        )
        due = await to_thread.run_sync(claim)
        started, unsent = 0, []
        for row in due:  # the store hands them out in the order they fell due
            if (tried is not None and row.id in tried) or not self.pool.admits(row):
                unsent.append(row.id)
                continue
            if tried is not None:
                tried.add(row.id)
            self.pool.start(row, self._deliver(client, row))
            started += 1
        if unsent:
            await to_thread.run_sync(self.store.release_deliveries, unsent)
        return started

    async def _idle(self, stop: asyncio.Event) -> None:
        """Until ``stop``, a delivery in flight ends, or ``webhook_poll_seconds`` pass."""
        waits = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self.pool.changed.wait()),
        ]
        try:
            await asyncio.wait(
                waits,
                timeout=self.settings.webhook_poll_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for wait in waits:
                wait.cancel()

    async def _give_back_in_flight(self) -> None:
        """Stopping: cancel the deliveries in flight and make them due again at once (the
        receiver may have had one: it deduplicates by webhook-id)."""
        stopped = await self.pool.cancel_all()
        if stopped:
            ids = [flight.delivery_id for flight in stopped]
            try:
                await to_thread.run_sync(self.store.release_deliveries, ids)
            except Exception:  # noqa: BLE001 - their leases run out instead
                log.exception("webhooks: giving back %d deliveries failed", len(ids))

    def _new_pool(self) -> DeliveryPool:
        limits = self.settings
        return DeliveryPool(
            limits.webhook_concurrency, limits.webhook_per_owner, limits.webhook_per_host
        )

    def _client(self) -> httpx.AsyncClient:
        connections = self.settings.webhook_concurrency  # one each: never a wait for one
        return httpx.AsyncClient(
            transport=GuardedTransport(self.policy, max_connections=connections),
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(self.deadline),
            headers={"User-Agent": USER_AGENT},
        )

    async def _deliver(self, client: httpx.AsyncClient, row: DeliveryRow) -> None:
        try:
            body = await to_thread.run_sync(self._body, row)
            secret = await to_thread.run_sync(
                self.store.webhook_secret, row.owner, signing.new_secret()
            )
            timestamp = int(time.time())
            headers = signing.headers(secret, row.id, timestamp, body)
            status_code = await self._post(client, row.url, body, headers)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
            # callers see this: our own words, or a phrase without the addresses tried
            own = isinstance(exc, DeliveryTimeout)
            detail = str(exc)[:200] if own else transport_failure(exc)
            await self._failed(row, f"{type(exc).__name__}: {detail}", None)
            return
        if 200 <= status_code < 300:
            await to_thread.run_sync(self.store.finish_delivery, row.id, True, None, None, None)
        else:
            await self._failed(row, f"HTTP {status_code}", status_code)

    async def _post(
        self, client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
    ) -> int:
        """The receiver's status code, once its whole answer (up to ``MAX_ANSWER_BYTES``)
        arrived; DeliveryTimeout if connecting, sending and answering took longer than the
        deadline together (a receiver that dribbles its answer is cut off here)."""
        try:
            async with (
                asyncio.timeout(self.deadline),
                client.stream("POST", url, content=body, headers=headers) as response,
            ):
                read = 0
                async for chunk in response.aiter_raw():
                    read += len(chunk)
                    if read >= MAX_ANSWER_BYTES:
                        break
                return response.status_code
        except TimeoutError:
            raise DeliveryTimeout(f"no whole answer within {self.deadline:g} s") from None

    async def _failed(self, row: DeliveryRow, error: str, status_code: int | None) -> None:
        attempts = row.attempts + 1
        retry_at: float | None = time.time() + retry_delay(attempts)
        assert retry_at is not None
        if retry_at - row.created_at > self.settings.webhook_max_age_seconds:
            retry_at = None  # too old: give up
        log.warning(
            "webhooks: %s for %s to %s failed (%s); %s",
            row.id,
            row.generation_id,
            row.url,
            error,
            "giving up" if retry_at is None else f"retry in {retry_at - time.time():.0f} s",
        )
        await to_thread.run_sync(
            self.store.finish_delivery, row.id, False, error, status_code, retry_at
        )

    def _body(self, row: DeliveryRow) -> bytes:
        if row.event_type == BATCH_COMPLETED:  # a batch's delivery: the batch's record
            batch = self.store.get_batch(row.generation_id)
            if batch is None:
                raise LookupError(f"batch {row.generation_id} no longer exists")
            data = batch_view(batch).model_dump(mode="json")
        else:
            gen = self.store.get_generation(row.generation_id)
            if gen is None:
                raise LookupError(f"generation {row.generation_id} no longer exists")
            [view] = self.views.render([gen], self.url_for)
            data = view.model_dump(mode="json")
        payload = {
            "type": row.event_type,
            "timestamp": datetime.fromtimestamp(row.created_at, UTC).isoformat(),
            "data": data,
        }
        return json.dumps(payload, separators=(",", ":")).encode()
