"""Every shape editserve puts on the wire, as pydantic models: one place per shape.

Routes return these (so ``/openapi.json`` documents responses too); the service builds
them from records. Field order is the order on the wire. Fields marked ``_omit_none``
are left out when empty, as the hosted API leaves them out.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from editserve.blobs.links import UrlFor as UrlFor  # re-exported for the views
from editserve.domain.record import Event, Generation, Status
from editserve.services.control_wire import CONTROL_MAP_URL_DOC, control_map_url
from editserve.services.usage.wire import RunUsage


def _omit_none(**kwargs: Any) -> Any:
    return Field(default=None, exclude_if=lambda value: value is None, **kwargs)


def _unix(value: float | None) -> int | None:
    return int(value) if value is not None else None


# --- errors -------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    type: str = Field(description="Machine-readable error type, e.g. invalid_params.")
    title: str
    detail: str = Field(description="What went wrong: names the field and the rule.")


class ErrorEnvelope(BaseModel):
    """Every error, whatever the route (see errors.py for the types)."""

    model_config = ConfigDict(extra="allow")
    error: ErrorBody
    status: Literal["error"] = "error"
    status_message: str


# --- generations --------------------------------------------------------------------------


class Progress(BaseModel):
    step: int | None
    total: int | None


class WebhookDelivery(BaseModel):
    """One webhook delivery of a generation (an extension field)."""

    id: str = Field(description="The webhook-id header: the same on every attempt.")
    event_type: str
    url: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_error: str | None
    last_status_code: int | None
    delivered_at: int | None


class GenerationView(BaseModel):
    """One generation. The request's own parameters (the model's schema, e.g. the
    aspect ratio and the steps) are the extra fields of this model: they follow the
    fields below on the wire."""

    model_config = ConfigDict(extra="allow")

    generation_id: str
    model_name: str
    prompt: str | None
    media_type: Literal["image"] = "image"
    status: Status
    result_url: str | None
    layer_urls: list[str] | None = _omit_none(
        description="A layered model's RGBA layers, in order, each a lasting link (the first "
        "is result_url); absent for a one-picture model (an extension field)."
    )
    error_message: str | None
    enqueued_at: int | None
    started_at: int | None
    completed_at: int | None
    seed: int
    target_namespace: str | None
    width: int
    height: int
    progress: Progress | None
    stage: str | None
    queue_position: int | None = Field(description="Queued generations ahead (queued only).")
    eta_seconds: float | None
    attempts: int
    cancel_requested: bool
    input_urls: list[str]
    timings: dict[str, float] | None
    receipt: dict[str, Any] | None
    webhooks: list[WebhookDelivery] | None = _omit_none()
    usage: RunUsage | None = _omit_none(
        description="What its run cost, once a worker finished it (an extension field)."
    )
    control_map_url: str | None = _omit_none(description=CONTROL_MAP_URL_DOC)

    @classmethod
    def of(
        cls,
        gen: Generation,
        url_for: UrlFor,
        *,
        queue_position: int | None = None,
        eta_seconds: float | None = None,
        webhooks: list[WebhookDelivery] | None = None,
    ) -> GenerationView:
        input_urls = [url_for(item["key"]) for item in gen.inputs]
        params = dict(gen.params)
        # Inline data: URIs are shown as the stored copy's URL.
        params["input_image"] = [
            input_urls[i] if ref.startswith("data:") else ref
            for i, ref in enumerate(params.get("input_image", []))
        ]
        prompt = params.pop("prompt", None)
        fields = set(cls.model_fields)
        extras = {name: value for name, value in params.items() if name not in fields}
        return cls(
            generation_id=gen.id,
            model_name=gen.model,
            prompt=prompt,
            status=gen.status,
            result_url=url_for(gen.result_key) if gen.result_key else None,
            layer_urls=[url_for(key) for key in gen.layer_keys] if gen.layer_keys else None,
            error_message=gen.error_message,
            enqueued_at=_unix(gen.enqueued_at),
            started_at=_unix(gen.started_at),
            completed_at=_unix(gen.completed_at),
            seed=gen.seed,
            target_namespace=gen.target_namespace,
            width=gen.width,
            height=gen.height,
            progress=(
                Progress(step=gen.progress_step, total=gen.progress_total)
                if gen.progress_total
                else None
            ),
            stage=gen.stage,
            queue_position=queue_position if gen.status is Status.QUEUED else None,
            eta_seconds=eta_seconds,
            attempts=gen.attempts,
            cancel_requested=gen.cancel_requested,
            input_urls=input_urls,
            timings=gen.timings,
            receipt=gen.receipt,
            webhooks=webhooks,
            usage=(
                RunUsage(gpu_seconds=gen.gpu_seconds, output_megapixels=gen.output_megapixels or 0)
                if gen.gpu_seconds is not None
                else None
            ),
            control_map_url=control_map_url(gen, url_for),
            **extras,
        )


class Enqueued(BaseModel):
    generation_id: str
    status: Status


class EnqueueResponse(BaseModel):
    generations: list[Enqueued]


class QueueList(BaseModel):
    count: int = Field(description="How many generations match (all of them are listed).")
    generations: list[GenerationView]


class HistoryPage(BaseModel):
    count: int = Field(description="Generations on this page.")
    generations: list[GenerationView]
    page_number: int
    page_size: int
    total_entries: int
    total_pages: int


class GenerationResponse(BaseModel):
    generation: GenerationView
    status: Literal["success"] = "success"
    status_message: Literal["resource_found"] = "resource_found"


class CancelResponse(BaseModel):
    status: Literal["success"] = "success"
    generation_id: str
    generation_status: Status
    cancel_requested: bool


class ImageUrl(BaseModel):
    url: str


class ImageB64(BaseModel):
    b64_json: str


class EditResponse(BaseModel):
    """POST /api/ai/images/edit: the picture (a layered model: every layer, in order)."""

    model: str
    created: int
    images: list[ImageUrl | ImageB64]
    generation_id: str
    seed: int
    width: int
    height: int
    timings: dict[str, float] | None


class GeneratedImage(BaseModel):
    generation_id: str
    seed: int
    width: int
    height: int


class GenerateResponse(BaseModel):
    """POST /api/ai/images/generate: the hosted API's ``model``, ``created`` and ``images``
    (one per generation, in order), its older ``image_url`` (the first link, when the
    answer is links), and each picture's generation, seed and size."""

    model: str
    created: int
    images: list[ImageUrl | ImageB64]
    image_url: str | None
    generations: list[GeneratedImage]
    timings: dict[str, float] | None


# --- events ----------------------------------------------------------------------------------


class EventData(BaseModel):
    """The ``data:`` line of an SSE event. ``media_generation_completed`` is byte-exact with
    the hosted API: generation_id, status, media_type, model, then url or error."""

    model_config = ConfigDict(extra="allow")

    generation_id: str
    status: str
    media_type: Literal["image"] = "image"
    model: str
    url: str | None = _omit_none()
    error: str | None = _omit_none()

    @classmethod
    def of(cls, event: Event, url_for: UrlFor) -> EventData:
        data = dict(event.data)
        key = data.pop("result_key", None)
        if key:
            data["url"] = url_for(key)
        return cls.model_validate(data)


# --- models, uploads, health ---------------------------------------------------------------


class WorkerCounts(BaseModel):
    total: int
    ready: int
    failed: int


class WorkerStage(BaseModel):
    """Where one live worker's start-up is, as it reports it through the store."""

    worker_id: str
    device: str
    state: str
    stage: str = Field(
        description="starting | downloading | loading | applying_options | warming_up | "
        "ready | failed"
    )
    stage_detail: dict[str, Any] | None = Field(
        default=None,
        description="The stage's figures: bytes_done, bytes_total, files_done, files_total, "
        "bytes_per_second (downloading); component, index, count (loading); step, index, "
        "count (applying_options); run, runs (warming_up); reason (failed).",
    )
    stage_text: str = Field(description="The stage in words, e.g. 'downloading 1.2 GB of …'.")


class Readiness(BaseModel):
    """What the workers report about one model."""

    readiness: Literal["ready", "loading", "failed", "no_workers"]
    weights: dict[str, Any] | None
    workers: WorkerCounts
    readiness_reason: str | None = _omit_none()
    warning: str | None = _omit_none()
    stage: str | None = _omit_none(
        description="The start-up stage of the model's furthest worker (see worker_stages)."
    )
    stage_detail: dict[str, Any] | None = _omit_none(description="That stage's figures.")
    stage_text: str | None = _omit_none(description="That stage in words.")
    worker_stages: list[WorkerStage] = Field(
        default_factory=list, description="Every live worker of the model and its stage."
    )
    loaded: bool = Field(
        default=False, description="Whether a running worker holds the model in memory now."
    )
    loaded_on: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The live workers that hold (or are loading) the model: worker_id, "
        "device, state, swaps (how often that worker swapped models). Workers serving "
        "several models (EDITSERVE_MODELS) load one at a time and swap on demand.",
    )


class Capabilities(BaseModel):
    input: list[str]
    output: list[str]


class Developer(BaseModel):
    name: str
    logo: str | None = Field(default=None, description="URL of the developer's logo.")


class Pricing(BaseModel):
    """The hosted API's pricing object. A self-hosted server charges nothing: the cost
    fields are null unless the model's card sets them."""

    model_config = ConfigDict(extra="allow")

    method: str = Field(description="What is charged for, e.g. image.")
    cost_per_image: float | None = None


class LoraInfo(BaseModel):
    """A LoRA of the operator's folder that fits a model: name it in a request's loras."""

    name: str
    path: str = Field(description="What to pass as loras[].path.")
    size_bytes: int


class ModelCard(Readiness):
    """A model: its card (the hosted API's model object), request schema and readiness.

    Fields the hosted API has and a self-hosted server has no value for are present
    with null (or empty) values, so clients that read them keep working."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: Literal["model"] = "model"
    created: int = Field(description="Unix time the model was released.")
    owned_by: str
    display_name: str
    description: str | None = None
    summary: str | None = None
    model_type: Literal["base", "custom"] = "base"
    endpoint: str = Field(description="The API endpoint to call, e.g. /images/edit.")
    capabilities: Capabilities
    pricing: Pricing = Field(default_factory=lambda: Pricing(method="image"))
    fine_tuning: dict[str, Any] | None = None
    deployments: list[dict[str, Any]] = Field(default_factory=list)
    developer: Developer
    source_model: str | None = Field(
        default=None, description="Where the weights come from (hub id)."
    )
    image_url: str | None = None
    released_at: str | None = Field(default=None, description="ISO 8601 release date.")
    parameter_count: int | None = None
    aliases: list[str]
    json_request_schema: dict[str, Any]
    request_schema: dict[str, Any]
    loras: list[LoraInfo] = Field(
        default_factory=list,
        description="The operator's LoRAs that fit this model (EDITSERVE_LORA_DIR).",
    )


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyResponse(BaseModel):
    status: Literal["ready", "not_ready"]
    models: dict[str, Readiness]
    warning: str | None = _omit_none()
