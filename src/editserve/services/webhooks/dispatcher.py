"""Delivering webhooks from the store's outbox: claim what is due, POST it signed, record.

A delivery row is written in the same transaction as the event it reports, so nothing is
lost when a process dies; a claimed delivery carries a short lease, so one whose sender
died is claimed again after it runs out (any API node may send: claims skip each other's
rows). A delivery that fails is retried with exponential backoff until it is older than
``webhook_max_age_seconds``; receivers deduplicate by ``webhook-id``, which is the same on
every attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from datetime import UTC, datetime

import httpx
from anyio import to_thread

from editserve.blobs.links import UrlFor
from editserve.core.settings import Settings
from editserve.domain import webhook_signing as signing
from editserve.net.ssrf import GuardedTransport, HostPolicy
from editserve.services.generations.views import GenerationViews
from editserve.store import DispatchStore
from editserve.store.rows import DeliveryRow

log = logging.getLogger("editserve.services.webhooks")

BATCH = 20
LEASE_SECONDS = 60.0
FIRST_RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 3600.0
USER_AGENT = "editserve-webhooks"


def retry_delay(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: 5 s, 10 s, 20 s … capped at an hour, ±10%."""
    delay = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2.0 ** max(0, attempts - 1))
    return float(delay * random.uniform(0.9, 1.1))


class WebhookDispatcher:
    def __init__(self, settings: Settings, store: DispatchStore, url_for: UrlFor) -> None:
        self.settings = settings
        self.store = store
        self.url_for = url_for
        self.views = GenerationViews(store)
        self.policy = HostPolicy(settings.fetch_allow_hosts)

    async def run(self, stop: asyncio.Event) -> None:
        """Send due deliveries until ``stop`` is set; poll when idle."""
        async with self._client() as client:
            while not stop.is_set():
                try:
                    sent = await self.run_once(client)
                except Exception:  # noqa: BLE001 - the loop outlives a bad round
                    log.exception("webhooks: delivery round failed")
                    sent = 0
                if not sent:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.settings.webhook_poll_seconds)

    async def run_once(self, client: httpx.AsyncClient | None = None) -> int:
        """Claim and send one batch of due deliveries; return how many were tried."""
        due = await to_thread.run_sync(self.store.claim_deliveries, BATCH, LEASE_SECONDS)
        if not due:
            return 0
        if client is None:
            async with self._client() as own:
                await self._send(own, due)
        else:
            await self._send(client, due)
        return len(due)

    async def _send(self, client: httpx.AsyncClient, due: list[DeliveryRow]) -> None:
        """Generations side by side; one generation's deliveries one after another, in the
        order their events were written (started before completed)."""
        by_generation: dict[str, list[DeliveryRow]] = {}
        for row in due:  # the store hands them out in that order
            by_generation.setdefault(row.generation_id, []).append(row)

        async def in_order(rows: list[DeliveryRow]) -> None:
            for row in rows:
                await self._deliver(client, row)

        await asyncio.gather(*(in_order(rows) for rows in by_generation.values()))

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=GuardedTransport(self.policy),
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(self.settings.webhook_timeout_seconds),
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
            response = await client.post(row.url, content=body, headers=headers)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
            await self._failed(row, f"{type(exc).__name__}: {str(exc)[:200]}", None)
            return
        if 200 <= response.status_code < 300:
            await to_thread.run_sync(self.store.finish_delivery, row.id, True, None, None, None)
        else:
            await self._failed(row, f"HTTP {response.status_code}", response.status_code)

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
        gen = self.store.get_generation(row.generation_id)
        if gen is None:
            raise LookupError(f"generation {row.generation_id} no longer exists")
        [view] = self.views.render([gen], self.url_for)
        payload = {
            "type": row.event_type,
            "timestamp": datetime.fromtimestamp(row.created_at, UTC).isoformat(),
            "data": view.model_dump(mode="json"),
        }
        return json.dumps(payload, separators=(",", ":")).encode()
