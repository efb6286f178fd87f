"""The store's roles for generation records, their events, uploads and the webhook outbox:
what the API's services ask (see the package doc)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from editserve.domain.record import Event, Generation, Status
from editserve.store.lineage import Lineage
from editserve.store.rows import (
    DeliveryRow,
    UploadRow,
)


class QueueFull(Exception):
    """An enqueue refused by the per-key queue limit (``insert_generations(max_active=)``):
    ``owner`` already has ``active`` queued or processing generations, ``limit`` at most."""

    def __init__(self, owner: str, active: int, limit: int, *, own: bool = False) -> None:
        super().__init__(f"{owner} has {active} active generations (limit {limit})")
        self.owner, self.active, self.limit = owner, active, limit
        self.own = own  # the limit is the key's own quota (max_running), not the default


class RecordStore(Protocol):
    """Generation records as the API writes and reads them: enqueue, read, list, count,
    cancel, queue positions and ETAs, webhook deliveries.

    Used by the generation service and its views, the event feed, the webhook dispatcher
    and retention's dry run (through the combinations below).
    """

    def insert_generations(
        self,
        generations: Sequence[Generation],
        *,
        max_active: int | None = None,
        costs: dict[str, float] | None = None,
    ) -> None:
        """Insert one enqueue request's generations atomically, in queue (FIFO) order.

        With ``max_active``, raise :class:`QueueFull` (inserting nothing) if an owner's
        queued and processing generations plus these would be more than the key's own
        max_running, or max_active if it has none; the count and the insert are one
        transaction serialised per owner, so concurrent enqueues of one key never go over
        the limit together. ``costs`` (estimated GPU seconds by generation id) place them
        in the fair-share order (store/fairness.py; 1 s each if not given).
        """
        ...

    def lineage(self, generation_id: str, owner: str, limit: int = 500) -> Lineage:
        """The owner's generation's ancestors and descendants by result links (store/
        lineage.py): edges nearest first, and the generations still stored among them."""
        ...

    def get_generation(self, generation_id: str, owner: str | None = None) -> Generation | None:
        """The generation, if it exists and (when owner is given) belongs to owner."""
        ...

    def list_generations(
        self,
        owner: str,
        *,
        statuses: Sequence[Status] | None = None,
        model: str | None = None,
        limit: int = 50,
        offset: int = 0,
        newest_first: bool = True,
    ) -> tuple[list[Generation], int]:
        """One page of owner's generations and the total matching (empty filter = none)."""
        ...

    def count_active(self, owner: str) -> int:
        """Owner's queued and processing generations."""
        ...

    def count_generations(
        self, owner: str, statuses: Sequence[Status] | None = None, model: str | None = None
    ) -> int:
        """Owner's generations of these statuses (all if None), of model if given; read
        from counters and the active index, never by scanning the history."""
        ...

    def by_idempotency_key(self, owner: str, key: str) -> list[Generation]: ...

    def queue_position(self, gen: Generation) -> int:
        """How many queued generations run before this one (0 = next)."""
        ...

    def recent_run_seconds(self, model: str, limit: int = 20) -> float | None:
        """Mean wall time of the last succeeded runs of a model (for ETAs)."""
        ...

    def recent_step_seconds(self, model: str, limit: int = 20) -> float | None:
        """Wall seconds per denoising step of one output megapixel, over the last succeeded
        runs of a model that reported their steps; None before any (for ETAs that scale
        with a request's steps and output size)."""
        ...

    def request_cancel(self, generation_id: str, owner: str) -> Generation | None:
        """Queued → cancelled now; processing → flagged for its worker; terminal → as is.

        None if owner has no such generation; else the generation after the change.
        """
        ...

    def deliveries_of(self, generation_ids: Sequence[str]) -> dict[str, list[DeliveryRow]]: ...


class EventStore(Protocol):
    """Every key's generation events, in id order, and hints that new ones exist.

    Used by services/events/hub.py (EventHub).
    """

    def events_after(self, owner: str, after_id: int, limit: int = 500) -> list[Event]:
        """Owner's events with ids above after_id, by id (ids become visible in order)."""
        ...

    def events_after_any(self, after_id: int, limit: int = 500) -> list[Event]:
        """Every key's events with ids above after_id, by id (the event hub's one read)."""
        ...

    def last_event_id(self, owner: str | None = None) -> int:
        """The id of owner's last event (of any key's if owner is None); 0 if none."""
        ...

    async def wait_for_events(self, owner: str | None, after_id: int, timeout: float) -> bool:
        """Wait up to timeout for a hint that owner (any key if None) has events after
        after_id.

        True: look now (a hint arrived, or one had arrived already). False: timed out, or
        no hint reached this store object (SQLite hints only its own writes). Only a hint:
        events_after stays the truth, so a reader that polls after a False loses nothing.
        """
        ...


class UploadStore(Protocol):
    """Uploads, and which key may use which stored blob (an upload or its own output).

    Used by services/uploads.py; inputs/own_links.py's BlobOwners is its link half.
    """

    def insert_upload(self, upload: UploadRow) -> None: ...

    def get_upload(self, upload_id: str, owner: str) -> UploadRow | None: ...

    def upload_owner(self, upload_id: str) -> str | None:
        """The key id that owns an upload; None if there is no such upload."""
        ...

    def owns_blob(self, owner: str, key: str) -> bool:
        """Whether owner may use the blob ``key``: its own generation's output, or an input
        it uploaded or edited with. Outputs are found by the generation id in the key."""
        ...


class OutboxStore(Protocol):
    """The webhook outbox (store/outbox.py): due deliveries, their outcome, signing secrets.

    Used by services/webhooks/dispatcher.py (with ViewStore: DispatchStore).
    """

    def claim_deliveries(
        self,
        limit: int,
        lease_seconds: float,
        *,
        busy_owners: Sequence[str] = (),
        busy_generations: Sequence[str] = (),
        busy_prefixes: Sequence[str] = (),
    ) -> list[DeliveryRow]:
        """Due webhook deliveries nobody is sending, leased to the caller, in the order they
        fell due; leaving out those of ``busy_owners`` and ``busy_generations`` and those
        whose URL, lowercased and with ``/`` appended, starts with one of ``busy_prefixes``
        (what the caller could not start now)."""
        ...

    def release_deliveries(self, delivery_ids: Sequence[str]) -> None:
        """Give back claimed deliveries that were not sent: due again now, for anyone."""
        ...

    def finish_delivery(
        self,
        delivery_id: str,
        delivered: bool,
        error: str | None,
        status_code: int | None,
        retry_at: float | None,
    ) -> None:
        """Delivered; or failed this time (retry at ``retry_at``; None: give up)."""
        ...

    def webhook_secret(self, owner: str, candidate: str) -> str: ...


__all__ = ["RecordStore", "EventStore", "UploadStore", "OutboxStore", "QueueFull"]
