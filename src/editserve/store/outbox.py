"""The webhook outbox: deliveries written by a trigger with their event (migration 005),
claimed by any API node with a lease that outlasts one attempt (leaving out what that node
is too busy to start: services/webhooks/pool.py), then marked delivered, rescheduled or
failed, or given back unsent."""

from __future__ import annotations

from collections.abc import Sequence

from editserve.store.dialect import Dialect
from editserve.store.rows import DeliveryRow, DeliveryStatus

PENDING = DeliveryStatus.PENDING.value


class WebhookOutbox:
    dialect: Dialect

    def claim_deliveries(
        self,
        limit: int,
        lease_seconds: float,
        *,
        busy_owners: Sequence[str] = (),
        busy_generations: Sequence[str] = (),
        busy_prefixes: Sequence[str] = (),
    ) -> list[DeliveryRow]:
        """Due deliveries nobody is sending, leased to the caller for ``lease_seconds``, in
        the order they fell due and, at the same moment, were written; none of the busy
        owners or generations, none whose URL (lowercased, with a ``/`` appended) starts
        with a busy prefix."""
        rows = self.dialect.all(
            "claim_deliveries",
            pending=PENDING,
            limit=limit,
            lease_seconds=float(lease_seconds),
            busy_owners=list(busy_owners),
            busy_generations=list(busy_generations),
            busy_prefixes=list(busy_prefixes),
        )
        rows.sort(key=lambda row: (row["next_attempt_at"], row["seq"]))  # RETURNING: any order
        return [DeliveryRow.from_row(row) for row in rows]

    def release_deliveries(self, delivery_ids: Sequence[str]) -> None:
        """Give back claimed deliveries that were not sent: due again now, for any sender."""
        if delivery_ids:
            self.dialect.rowcount("release_deliveries", ids=list(delivery_ids), pending=PENDING)

    def finish_delivery(
        self,
        delivery_id: str,
        delivered: bool,
        error: str | None,
        status_code: int | None,
        retry_at: float | None,
    ) -> None:
        """Delivered; or failed this time (retry at ``retry_at``; None: give up)."""
        if delivered:
            status = DeliveryStatus.DELIVERED
        else:
            status = DeliveryStatus.PENDING if retry_at is not None else DeliveryStatus.FAILED
        self.dialect.rowcount(
            "finish_delivery",
            id=delivery_id,
            status=status.value,
            delivered=delivered,
            error=error,
            status_code=status_code,
            retry_at=retry_at,
        )

    def deliveries_of(self, generation_ids: Sequence[str]) -> dict[str, list[DeliveryRow]]:
        """Each generation's deliveries, oldest first (for the generation views)."""
        found: dict[str, list[DeliveryRow]] = {}
        if not generation_ids:
            return found
        for row in self.dialect.all("deliveries_of", ids=list(generation_ids)):
            delivery = DeliveryRow.from_row(row)
            found.setdefault(delivery.generation_id, []).append(delivery)
        return found

    def webhook_secret(self, owner: str, candidate: str) -> str:
        """The key's signing secret; ``candidate`` becomes it if it has none yet (keys made
        before webhooks existed). Race-safe: the first one written stays. Usually one read."""
        row = self.dialect.one("key_webhook", id=owner)
        if row is not None and row["webhook_secret"]:
            return str(row["webhook_secret"])
        self.dialect.rowcount("ensure_webhook_secret", id=owner, secret=candidate)
        row = self.dialect.one("key_webhook", id=owner)
        if row is None or not row["webhook_secret"]:
            raise LookupError(f"API key {owner} does not exist")
        return str(row["webhook_secret"])

    def key_webhook_url(self, owner: str) -> str | None:
        row = self.dialect.one("key_webhook", id=owner)
        return str(row["webhook_url"]) if row and row["webhook_url"] else None

    def set_key_webhook(self, key_id: str, url: str | None) -> bool:
        """Set (or clear, with None) a key's default webhook."""
        return self.dialect.rowcount("set_key_webhook", id=key_id, url=url) > 0

    def rotate_webhook_secret(self, key_id: str, secret: str) -> bool:
        return self.dialect.rowcount("set_webhook_secret", id=key_id, secret=secret) > 0
