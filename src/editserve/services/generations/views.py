"""Generations as the caller sees them: wire views with queue positions and ETAs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
        """ETAs for one response: this generation's own work (its steps left times its
        output megapixels, at the model's recent seconds per step and megapixel), after the
        runs ahead of it (at the model's recent mean run time per live worker)."""
        rates: dict[str, RecentRates] = {}
        live_workers: list[int] = []

        def eta(gen: Generation, position: int | None) -> float | None:
            if gen.status.is_terminal:
                return None
            if gen.model not in rates:
                rates[gen.model] = RecentRates(
                    self.store.recent_run_seconds(gen.model),
                    self.store.recent_step_seconds(gen.model),
                )
            own = rates[gen.model].seconds_left(gen)
            if own is None or gen.status is Status.PROCESSING:
                return own
            if not live_workers:
                fresh = self.store.list_workers(fresh_within=LIVE_WORKER_SECONDS)
                live_workers.append(max(1, len(fresh)))
            per_run = rates[gen.model].per_run or 0.0
            return round(own + per_run * ((position or 0) // live_workers[0]), 1)

        return eta


@dataclass(frozen=True)
class RecentRates:
    """A model's recent speed: mean wall seconds per run, and wall seconds per denoising
    step of one output megapixel (None: no finished run says)."""

    per_run: float | None
    per_step_megapixel: float | None

    def seconds_left(self, gen: Generation) -> float | None:
        """What is left of this generation's own run, in seconds (None: no estimate)."""
        total = gen.progress_total or _requested_steps(gen)
        done = min(gen.progress_step or 0, total) if total else 0
        if self.per_step_megapixel is not None and total:
            megapixels = gen.width * gen.height / 1_000_000
            return round(self.per_step_megapixel * (total - done) * megapixels, 1)
        if self.per_run is None:
            return None
        return round(self.per_run * (1.0 - done / total if total else 1.0), 1)


# Seconds per denoising step of one output megapixel at which the fair-share order prices a
# request (about the edit model's on one H100). Fixed, not the model's measured rate: every
# start tag must be in one unit, and a rate that moves between enqueues (the first finished
# run, fixed overheads, batching, the ETA's rounding to 0.1 s) re-prices identical jobs while
# the backlog queued before keeps its old price, so a newcomer waited behind that backlog.
NOMINAL_STEP_MEGAPIXEL_SECONDS = 0.5


def estimated_seconds(gens: list[Generation]) -> dict[str, float]:
    """Each new generation's charge in the fair-share order: its requested steps times its
    output megapixels, in nominal worker seconds. The same request costs the same whenever
    it is enqueued; four times the steps or the pixels cost four times as much."""
    return {
        gen.id: max(
            NOMINAL_STEP_MEGAPIXEL_SECONDS
            * (_requested_steps(gen) or 1)
            * gen.width
            * gen.height
            / 1e6,
            0.001,
        )
        for gen in gens
    }


def _requested_steps(gen: Generation) -> int | None:
    """The denoising steps the request asked for (its validated params hold them)."""
    steps = gen.params.get("num_inference_steps")
    return steps if isinstance(steps, int) and steps > 0 else None
