"""The served models as the API shows them: cards, request schemas and readiness.

Readiness comes from what the workers report through the store (any node sees every
worker): ready when a running worker serves the model (it has it loaded, or swaps it in
on demand: EDITSERVE_MODELS), loading while one starts, failed with the reason when all
failed. `loaded_on` says which workers (and devices) hold the model in memory now.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread

from editserve.core.settings import Settings
from editserve.domain.stages import Stage, describe, fraction, rank
from editserve.models.registry import ModelRegistry
from editserve.models.spec import ModelSpec
from editserve.services.usage.prices import PriceTable
from editserve.services.wire import (
    LoraInfo,
    ModelCard,
    ModelList,
    Readiness,
    ReadyResponse,
    WorkerCounts,
    WorkerStage,
)
from editserve.store import WorkerRegistry
from editserve.store.rows import WorkerRow, WorkerState

# A worker that has not beaten its heart for this long is considered gone.
WORKER_FRESH_SECONDS = 30.0

_RUNNING = (WorkerState.READY, WorkerState.BUSY)
_STARTING = (WorkerState.STARTING, WorkerState.LOADING)


def model_readiness(store: WorkerRegistry, spec: ModelSpec) -> Readiness:
    """What the live workers report about one model."""
    return readiness_of(spec, store.list_workers(WORKER_FRESH_SECONDS))


def serves(worker: WorkerRow, model_id: str) -> bool:
    """Whether the worker serves the model (holds it, or swaps it in when its jobs wait)."""
    if worker.models is not None:
        return model_id in worker.models
    return worker.model in (model_id, None)  # a worker of before several models


def readiness_of(spec: ModelSpec, live: list[WorkerRow]) -> Readiness:
    workers = [w for w in live if serves(w, spec.id)]
    holding = [w for w in workers if w.model == spec.id and w.state is not WorkerState.STOPPED]
    ready = [w for w in workers if w.state in _RUNNING]
    # a worker that failed to load another model still serves (and may swap to) this one
    failed = [w for w in workers if w.state is WorkerState.FAILED and w.model in (spec.id, None)]
    if ready:
        state = "ready"
    elif any(w.state in _STARTING for w in workers):
        state = "loading"
    elif failed:
        state = "failed"
    else:
        state = "no_workers"
    weights = next((w.weights for w in holding if w.weights and w.state in _RUNNING), None)
    weights = weights or next((w.weights for w in holding if w.weights), None)
    return Readiness(
        readiness=state,  # type: ignore[arg-type]
        weights=weights,
        workers=WorkerCounts(total=len(workers), ready=len(ready), failed=len(failed)),
        readiness_reason=failed[-1].error if failed and not ready else None,
        warning=spec.tiny_warning if weights and weights.get("is_tiny") else None,
        loaded=any(w.state in _RUNNING for w in holding),
        loaded_on=[
            {"worker_id": w.id, "device": w.device, "state": w.state.value, "swaps": w.swaps}
            for w in holding
        ],
        **_stages(holding or workers),
    )


def stage_of(worker: WorkerRow) -> str:
    """The worker's reported start-up stage (or one read from its state: older workers)."""
    if worker.state in _RUNNING:
        return Stage.READY.value
    if worker.state is WorkerState.FAILED:
        return Stage.FAILED.value
    return worker.stage or (
        Stage.LOADING.value if worker.state is WorkerState.LOADING else Stage.STARTING.value
    )


def worker_stage(worker: WorkerRow) -> WorkerStage:
    stage = stage_of(worker)
    detail = worker.stage_detail if stage == worker.stage else None
    if stage == Stage.FAILED and not detail and worker.error:
        detail = {"reason": worker.error}
    return WorkerStage(
        worker_id=worker.id,
        device=worker.device,
        state=worker.state.value,
        stage=stage,
        stage_detail=detail,
        stage_text=describe(stage, detail),
    )


def _stages(workers: list[WorkerRow]) -> dict[str, Any]:
    """The model's stage: a ready worker's, else the furthest starting one's, else the
    last failure's; and every (not stopped) worker's."""
    stages = [worker_stage(w) for w in workers if w.state is not WorkerState.STOPPED]
    if not stages:
        return {}
    ready = [s for s in stages if s.stage == Stage.READY]
    starting = [s for s in stages if s.stage not in (Stage.READY, Stage.FAILED)]
    if ready:
        lead = ready[0]
    elif starting:
        lead = max(starting, key=lambda s: (rank(s.stage), fraction(s.stage_detail) or 0.0))
    else:
        lead = stages[-1]
    return {
        "stage": lead.stage,
        "stage_detail": lead.stage_detail,
        "stage_text": lead.stage_text,
        "worker_stages": stages,
    }


class ModelCatalog:
    def __init__(
        self,
        settings: Settings,
        store: WorkerRegistry,
        registry: ModelRegistry,
        prices: PriceTable | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.prices = prices

    def card(self, spec: ModelSpec, readiness: Readiness) -> ModelCard:
        schema = spec.schema_for(self.settings)
        return ModelCard(
            **{**spec.card, **readiness.model_dump(), **self._pricing(spec)},
            aliases=list(spec.aliases),
            json_request_schema=schema,
            request_schema=schema,
            loras=[LoraInfo.model_validate(lora) for lora in spec.loras(self.settings)],
        )

    def _pricing(self, spec: ModelSpec) -> dict[str, Any]:
        """The card's pricing from the operator's price table (EDITSERVE_PRICES), if it
        prices this model; else the card's own (null costs)."""
        table = self.prices
        price = table.price_of(spec.id) if table is not None else None
        if table is None or price is None:
            return {}
        pricing = {**spec.card.get("pricing", {}), "cost_per_image": price.per_image}
        pricing.update(cost_per_gpu_second=price.per_gpu_second, currency=table.currency)
        return {"pricing": pricing}

    async def list(self) -> ModelList:
        live = await to_thread.run_sync(self.store.list_workers, WORKER_FRESH_SECONDS)
        return ModelList(
            data=[self.card(spec, readiness_of(spec, live)) for spec in self.registry.all()]
        )

    async def search(self, query: str | None) -> ModelList:
        """GET /api/ai/models/search: the models whose id, an alias, display name or
        developer contains `query` (any case); every model when it is empty."""
        needle = (query or "").strip().lower()
        live = await to_thread.run_sync(self.store.list_workers, WORKER_FRESH_SECONDS)
        return ModelList(
            data=[
                self.card(spec, readiness_of(spec, live))
                for spec in self.registry.all()
                if needle in _search_text(spec)
            ]
        )

    async def one(self, model_id: str) -> ModelCard:
        spec = self.registry.get(model_id)
        live = await to_thread.run_sync(self.store.list_workers, WORKER_FRESH_SECONDS)
        return self.card(spec, readiness_of(spec, live))

    async def ready(self, *, details: bool = True) -> ReadyResponse:
        """/readyz: ready when any served model has a worker that loaded it. Without
        ``details`` (a caller without a key), no paths, versions or host names."""
        live = await to_thread.run_sync(self.store.list_workers, WORKER_FRESH_SECONDS)
        models = {spec.id: readiness_of(spec, live) for spec in self.registry.all()}
        if not details:
            models = {model: public_readiness(r) for model, r in models.items()}
        ready = any(m.readiness == "ready" for m in models.values())
        warnings = [m.warning for m in models.values() if m.warning]
        return ReadyResponse(
            status="ready" if ready else "not_ready",
            models=models,
            warning=warnings[0] if warnings else None,
        )


# What everyone may see of the weights a worker loaded (the rest names folders, revisions
# and library versions).
PUBLIC_WEIGHTS = ("model", "is_tiny", "device", "dtype")


def public_readiness(readiness: Readiness) -> Readiness:
    """Readiness as a caller without a key sees it: the state, the counts, the stage with
    its figures (numbers only); no failure reason, no worker ids (host names), no weight
    sources (paths) or library versions."""
    detail = {
        name: value
        for name, value in (readiness.stage_detail or {}).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    weights = readiness.weights
    shown = {name: weights[name] for name in PUBLIC_WEIGHTS if name in weights} if weights else None
    return readiness.model_copy(
        update={
            "weights": shown,
            "readiness_reason": None,
            "stage_detail": detail or None,
            "stage_text": describe(readiness.stage, detail) if readiness.stage else None,
            "worker_stages": [],
            "loaded_on": [],
        }
    )


def _search_text(spec: ModelSpec) -> str:
    """What a model search matches against, lower-cased."""
    developer = spec.card.get("developer") or {}
    names = [spec.id, *spec.aliases, spec.card.get("display_name"), developer.get("name")]
    return "\n".join(str(name) for name in names if name).lower()
