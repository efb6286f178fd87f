"""Generations as the caller sees them: wire views with queue positions and ETAs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from editserve.domain.record import Generation, Status
from editserve.services.wire import GenerationView, UrlFor, WebhookDelivery
from editserve.store import ViewStore

# A worker that has not beaten its heart for this long does not count for ETAs.
LIVE_WORKER_SECONDS = 60.0

EtaEstimator = Callable[[Generation, int | None], float | None]


class GenerationViews:
    """Builds GenerationView lists; reads each model's run time and the worker count once
    per response, however many generations it lists. Synchronous: call from a thread."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def render(self, gens: Sequence[Generation], url_for: UrlFor) -> list[GenerationView]:
        eta = self.eta_estimator()
        deliveries = self._deliveries(gens)
        views = []
        for gen in gens:
            position = self.store.queue_position(gen) if gen.status is Status.QUEUED else None
            views.append(
                GenerationView.of(
                    gen,
                    url_for,
                    queue_position=position,
                    eta_seconds=eta(gen, position),
                    webhooks=deliveries.get(gen.id, []) if gen.webhook else None,
                )
            )
        return views

    def _deliveries(self, gens: Sequence[Generation]) -> dict[str, list[WebhookDelivery]]:
        """The webhook deliveries of the listed generations that have a webhook (one read)."""
        with_webhook = [gen.id for gen in gens if gen.webhook]
        found = self.store.deliveries_of(with_webhook) if with_webhook else {}
        return {
            gen_id: [
                WebhookDelivery(
                    id=row.id,
                    event_type=row.event_type,
                    url=row.url,
                    status=row.status.value,
                    attempts=row.attempts,
                    last_error=row.last_error,
                    last_status_code=row.last_status_code,
                    delivered_at=int(row.delivered_at) if row.delivered_at else None,
                )
                for row in rows
            ]
            for gen_id, rows in found.items()
        }

    def eta_estimator(self) -> EtaEstimator:
        """ETAs for one response, from recent run times, progress and live workers."""
        run_seconds: dict[str, float | None] = {}
        live_workers: list[int] = []

        def eta(gen: Generation, position: int | None) -> float | None:
            if gen.status.is_terminal:
                return None
            if gen.model not in run_seconds:
                run_seconds[gen.model] = self.store.recent_run_seconds(gen.model)
            per_run = run_seconds[gen.model]
            if per_run is None:
                return None
            if gen.status is Status.PROCESSING:
                total = gen.progress_total
                done = (gen.progress_step or 0) / total if total else 0.0
                return round(per_run * (1.0 - done), 1)
            if not live_workers:
                fresh = self.store.list_workers(fresh_within=LIVE_WORKER_SECONDS)
                live_workers.append(max(1, len(fresh)))
            return round(per_run * ((position or 0) // live_workers[0] + 1), 1)

        return eta
