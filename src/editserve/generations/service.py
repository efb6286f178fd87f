"""The generation service: what the API does with a request, between HTTP and the store."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from editserve.config import Settings
from editserve.errors import Conflict, InvalidParams, NotFound, RateLimited
from editserve.generations.record import Generation, Status
from editserve.models.registry import ModelRegistry, ModelSpec
from editserve.store.base import Store

SEED_SPACE = 2**32


class QueueEnvelope(BaseModel):
    """Fields of POST /api/ai/queue that belong to the queue, not to the model."""

    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1)
    num_generations: int = Field(default=1, ge=1, le=4)
    target_namespace: str | None = None
    # The hosted API passes response_format through; the queue always answers with URLs.
    response_format: Literal["url", "b64_json"] = "url"


class EditEnvelope(BaseModel):
    """Fields of POST /api/ai/images/edit that belong to the call, not to the model."""

    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1)
    response_format: Literal["url", "b64_json"] = "url"
    target_namespace: str | None = None


ENVELOPE_FIELDS = {"model", "num_generations", "target_namespace", "response_format"}


def describe_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """One line per problem, each naming the field and the rule."""
    parts = []
    for error in exc.errors():
        loc = prefix
        for item in error["loc"]:
            loc += f"[{item}]" if isinstance(item, int) else (f".{item}" if loc else str(item))
        if error["type"] == "extra_forbidden":
            parts.append(f"{loc}: unknown field")
        elif error["type"] == "missing":
            parts.append(f"{loc}: required field is missing")
        else:
            message = error["msg"]
            message = message.removeprefix("Value error, ")
            parts.append(f"{loc}: {message}")
    return "; ".join(parts)


@dataclass(frozen=True)
class ValidatedRequest:
    spec: ModelSpec
    params: BaseModel
    envelope: QueueEnvelope | EditEnvelope
    request_hash: str


def request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class GenerationService:
    def __init__(self, settings: Settings, store: Store, registry: ModelRegistry) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry

    # --- validation ----------------------------------------------------------------------
    def validate(
        self, body: Any, envelope_type: type[QueueEnvelope] | type[EditEnvelope]
    ) -> ValidatedRequest:
        if not isinstance(body, dict):
            raise InvalidParams("body: must be a JSON object")
        try:
            envelope = envelope_type.model_validate(body)
        except ValidationError as exc:
            raise InvalidParams(describe_validation_error(exc)) from None
        spec = self.registry.find(envelope.model)
        if spec is None:
            raise InvalidParams(f"model: unknown model {envelope.model!r}")
        allowed_envelope = set(envelope_type.model_fields)
        model_fields = {k: v for k, v in body.items() if k not in allowed_envelope}
        try:
            params = spec.params_model.model_validate(model_fields)
            overrides = {
                name: value
                for name, value in spec.default_overrides(self.settings).items()
                if name not in params.model_fields_set
            }
            if overrides:
                params = spec.params_model.model_validate({**model_fields, **overrides})
        except ValidationError as exc:
            raise InvalidParams(describe_validation_error(exc)) from None
        return ValidatedRequest(spec, params, envelope, request_hash(body))

    # --- enqueue -------------------------------------------------------------------------
    def existing_for_idempotency_key(
        self, owner: str, key: str | None, req_hash: str
    ) -> list[Generation] | None:
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

    def check_capacity(self, owner: str, wanted: int) -> None:
        active = self.store.count_active(owner)
        limit = self.settings.max_queued_per_key
        if active + wanted > limit:
            raise RateLimited(
                f"queue: this key already has {active} queued or running generations "
                f"(limit {limit}); retry when some have finished",
                retry_after=10,
            )

    def enqueue(
        self,
        owner: str,
        request: ValidatedRequest,
        inputs: list[dict[str, Any]],
        *,
        num_generations: int = 1,
        idempotency_key: str | None = None,
    ) -> list[Generation]:
        self.check_capacity(owner, num_generations)
        params = request.params.model_dump()
        params["input_image"] = [
            "data:" if ref.startswith("data:") else ref for ref in params["input_image"]
        ]
        given_seed = params.get("seed")
        size = request.spec.plan_size(
            request.params, [(item["width"], item["height"]) for item in inputs], self.settings
        )
        batch_id = str(uuid.uuid4())
        now = time.time()
        generations = []
        for index in range(num_generations):
            seed = (
                (given_seed + index) % SEED_SPACE
                if given_seed is not None
                else secrets.randbelow(SEED_SPACE)
            )
            generations.append(
                Generation(
                    id=str(uuid.uuid4()),
                    owner=owner,
                    model=request.spec.id,
                    status=Status.QUEUED,
                    params={**params, "seed": seed},
                    inputs=inputs,
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
        self.store.insert_generations(generations)
        return generations

    # --- read and cancel -----------------------------------------------------------------
    def get(self, owner: str, generation_id: str) -> Generation:
        gen = self.store.get_generation(generation_id, owner)
        if gen is None:
            raise NotFound(f"Generation not found: {generation_id}")
        return gen

    def cancel(self, owner: str, generation_id: str) -> Generation:
        gen = self.store.request_cancel(generation_id, owner)
        if gen is None:
            raise NotFound(f"Generation not found: {generation_id}")
        return gen

    def eta_estimator(self) -> Callable[[Generation, int | None], float | None]:
        """ETAs for one response: each model's mean run time and the number of live workers
        are read once, however many generations the response lists."""
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
                live_workers.append(max(1, len(self.store.list_workers(fresh_within=60.0))))
            return round(per_run * ((position or 0) // live_workers[0] + 1), 1)

        return eta
