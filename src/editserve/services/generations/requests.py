"""Reading a request body: the envelope (fields of the call) and the model's parameters.

One body carries both: ``model``, ``num_generations``, ``target_namespace`` and
``response_format`` belong to the call; everything else is validated by the model's own
request model (its spec's ``params_model``), which is also the schema the models endpoint
serves. Every problem is one InvalidParams naming the field and the rule, except a model
that is not served: that is a 404 ``Model not found: <id>``, as the hosted API answers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from editserve.core.errors import InvalidParams
from editserve.core.settings import Settings
from editserve.models.registry import ModelRegistry
from editserve.models.spec import KIND_ENDPOINTS, ModelKind, ModelSpec
from editserve.services.generations.sweeps import MAX_SWEEP_CELLS, SweepPlan, plan_sweep

WebhookEvent = Literal["start", "completed"]

# Every string of a request that is stored (or echoed) has a bound, so one request cannot
# write megabytes into the job store. The served schemas do not advertise these bounds
# (the envelope's schema is documented as it was); a string over one is a 400 naming it.
MAX_MODEL_CHARS = 256
MAX_NAMESPACE_CHARS = 256
MAX_IDEMPOTENCY_KEY_CHARS = 255
IDEMPOTENCY_HEADER = "Idempotency-Key"


def _at_most(limit: int, value: str | None) -> str | None:
    if value is not None and len(value) > limit:
        raise ValueError(f"must be at most {limit} characters (got {len(value)})")
    return value


def checked_idempotency_key(value: str | None) -> str | None:
    """The Idempotency-Key header as given, or InvalidParams naming it and the rule."""
    if value is not None and len(value) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise InvalidParams(
            f"{IDEMPOTENCY_HEADER}: must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters "
            f"(got {len(value)})"
        )
    return value


def _completed_only() -> list[WebhookEvent]:
    return ["completed"]


class WebhookFields(BaseModel):
    """Where a generation's events are delivered (an extension; see webhooks/)."""

    webhook: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        description="An http(s) URL that receives signed deliveries of this request's events.",
    )
    webhook_events_filter: list[WebhookEvent] = Field(
        default_factory=_completed_only,
        min_length=1,
        description="Which events to deliver: start, completed (default: completed).",
    )


class _Bounded(WebhookFields):
    """The bounds shared by both envelopes (validators only: the schema is unchanged)."""

    @field_validator("model", check_fields=False)
    @classmethod
    def _model_bounded(cls, value: str) -> str:
        _at_most(MAX_MODEL_CHARS, value)
        return value

    @field_validator("target_namespace", check_fields=False)
    @classmethod
    def _namespace_bounded(cls, value: str | None) -> str | None:
        return _at_most(MAX_NAMESPACE_CHARS, value)


class QueueEnvelope(_Bounded):
    """Fields of POST /api/ai/queue that belong to the queue, not to the model."""

    # The kind of model the endpoint serves (None: any; the model's own fields decide).
    kind: ClassVar[ModelKind | None] = None
    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1)
    num_generations: int = Field(default=1, ge=1, le=4)
    target_namespace: str | None = None
    # The hosted API passes response_format through; the queue always answers with URLs.
    response_format: Literal["url", "b64_json"] = "url"
    # An extension: a grid of cells over a few parameters (services/generations/sweeps.py);
    # checked by plan_sweep (the raw object keeps the axes' order).
    sweep: dict[str, Any] | None = Field(
        default=None,
        description="A parameter sweep: {axis: [values]} over seed, true_cfg_scale, "
        'num_inference_steps and lora_scales ({"<lora path>": [scales]}); one generation '
        f"per cell, at most {MAX_SWEEP_CELLS} (an extension field).",
    )


class EditEnvelope(_Bounded):
    """Fields of POST /api/ai/images/edit that belong to the call, not to the model."""

    kind: ClassVar[ModelKind | None] = "edit"
    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1)
    response_format: Literal["url", "b64_json"] = "url"
    target_namespace: str | None = None

    @property
    def num_generations(self) -> int:
        return 1


class GenerateEnvelope(_Bounded):
    """Fields of POST /api/ai/images/generate that belong to the call, not to the model."""

    kind: ClassVar[ModelKind | None] = "generate"
    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1)
    num_generations: int = Field(default=1, ge=1, le=4)
    response_format: Literal["url", "b64_json"] = "url"
    target_namespace: str | None = None


Envelope = QueueEnvelope | EditEnvelope | GenerateEnvelope


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
        elif error["type"] == "union_tag_invalid":  # a tagged choice (control's type)
            ctx = error.get("ctx", {})
            parts.append(
                f"{loc}: must be one of {ctx.get('expected_tags')} (got {ctx.get('tag')!r})"
            )
        else:
            message = error["msg"]
            message = message.removeprefix("Value error, ")
            parts.append(f"{loc}: {message}")
    return "; ".join(parts)


@dataclass(frozen=True)
class ValidatedRequest:
    spec: ModelSpec
    params: BaseModel
    envelope: Envelope
    request_hash: str
    sweep: SweepPlan | None = None  # a sweep's grid: one generation per cell

    @property
    def num_generations(self) -> int:
        return len(self.sweep.cells) if self.sweep else self.envelope.num_generations

    @property
    def input_refs(self) -> list[str]:
        return self.spec.input_refs(self.params)

    @property
    def mask_ref(self) -> str | None:
        """A masked edit's ``mask`` reference (models that take one), else None."""
        mask = getattr(self.params, "mask", None)
        return mask if isinstance(mask, str) else None

    @property
    def control_ref(self) -> str | None:
        """The ``control`` field's picture reference (models that take one), else None."""
        control = getattr(self.params, "control", None)
        image = getattr(control, "image", None)
        return image if isinstance(image, str) else None


def request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def validate_request(
    body: Any,
    envelope_type: type[Envelope],
    registry: ModelRegistry,
    settings: Settings,
    endpoints: Mapping[str, str] = KIND_ENDPOINTS,
) -> ValidatedRequest:
    """The envelope, the model it names and that model's parameters.

    Raises InvalidParams (naming the field and the rule), or NotFound when the model
    named is not served here. ``endpoints`` (kind → the call for it) words the error for
    a model of the wrong kind.
    """
    if not isinstance(body, dict):
        raise InvalidParams("body: must be a JSON object")
    try:
        envelope = envelope_type.model_validate(body)
    except ValidationError as exc:
        raise InvalidParams(describe_validation_error(exc)) from None
    spec = registry.get(envelope.model)  # NotFound: "Model not found: <id>"
    check_kind(spec, envelope_type.kind, body, registry, endpoints)
    model_fields = {k: v for k, v in body.items() if k not in envelope_type.model_fields}
    try:
        params = spec.validate_params(model_fields, settings)
    except ValidationError as exc:
        raise InvalidParams(describe_validation_error(exc)) from None
    raw_sweep = getattr(envelope, "sweep", None)
    sweep = None
    if raw_sweep is not None:
        sweep = plan_sweep(
            raw_sweep, envelope.num_generations, spec, model_fields, settings,
            describe_validation_error,
        )  # fmt: skip
    return ValidatedRequest(spec, params, envelope, request_hash(body), sweep)


def check_kind(
    spec: ModelSpec,
    expected: ModelKind | None,
    body: Mapping[str, Any],
    registry: ModelRegistry,
    endpoints: Mapping[str, str] = KIND_ENDPOINTS,
) -> None:
    """A request's kind follows its model: an edit model on a generate call, a generate
    model on an edit call, or a generate model given pictures is InvalidParams saying
    which call or which model to use instead."""
    if expected is not None and spec.kind != expected:
        what = "edits pictures" if spec.kind == "edit" else "makes pictures from a prompt alone"
        raise InvalidParams(
            f"model: {spec.id} {what}: call {endpoints[spec.kind]}, "
            f"or {_served_of_kind(expected, registry)}"
        )
    if spec.kind == "generate" and "input_image" in body:
        raise InvalidParams(
            f"input_image: {spec.id} makes pictures from a prompt alone and takes none; "
            f"to edit pictures, {_served_of_kind('edit', registry)}"
        )


def _served_of_kind(kind: ModelKind, registry: ModelRegistry) -> str:
    """Advice naming the served models of a kind (or that there are none)."""
    verb = "edit" if kind == "edit" else "generate"
    names = [spec.id for spec in registry.all() if spec.kind == kind]
    if not names:
        return f"serve a model that can {verb} (EDITSERVE_MODELS; see GET /api/ai/models)"
    return f"{verb} with {' or '.join(names)}"
