"""What editserve knows about one model: the spec a model folder hands to the registry.

A spec owns everything model-specific the rest of the server needs — its card, its request
schema and defaults, how a request is sized, how a stored request becomes the adapter's job,
and where its adapter lives — so the API, the worker, smoke runs and metrics name no model.
Nothing here imports torch: adapters are named by import path and loaded by workers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from editserve.core.devices import DeviceKind
from editserve.core.settings import Settings
from editserve.hub.sources import HubFiles
from editserve.models.memory import MemoryEstimate

if TYPE_CHECKING:
    from editserve.models.base import EditJob


@dataclass(frozen=True)
class SizePlan:
    """The output size of a request, known (and recorded) before the job runs."""

    width: int
    height: int
    area: int


# What a model does with a request: "edit" takes 1-3 input pictures (POST
# /api/ai/images/edit, /v1/images/edits); "generate" takes a prompt only (POST
# /api/ai/images/generate, /v1/images/generations). Both go through POST /api/ai/queue.
ModelKind = Literal["edit", "generate"]

# The endpoint each kind is called on, for errors that point a caller to the right one.
KIND_ENDPOINTS: dict[str, str] = {
    "edit": "POST /api/ai/images/edit (with input_image)",
    "generate": "POST /api/ai/images/generate",
}


@dataclass(frozen=True)
class ModelSpec:
    id: str
    aliases: tuple[str, ...]
    params_model: type[BaseModel]
    card: dict[str, Any]
    request_schema: Callable[[], dict[str, Any]]
    # "package.module:ClassName" of the ModelAdapter, imported only in workers.
    adapter_path: str
    # (validated params, input sizes [(w, h)], settings) → output size; raises
    # InvalidParams for inputs the model cannot take.
    plan_size: Callable[[Any, list[tuple[int, int]], Settings], SizePlan]
    # (stored params, decoded RGB inputs, *, seed, width, height, area) → EditJob: the one
    # place a stored request becomes a pipeline job (worker, smoke runs and warm-ups).
    build_job: Callable[..., EditJob]
    # Shown by /readyz and the model card while a worker runs development weights.
    tiny_warning: str = ""
    kind: ModelKind = "edit"
    # Server-dependent defaults (e.g. a step-distilled preset changes the default steps
    # and CFG): applied to fields a request leaves out, and shown in the served schema.
    default_overrides: Callable[[Settings], dict[str, Any]] = lambda _settings: {}
    # Refuse settings that cannot work on a device kind ("cpu" | "cuda" | None = unknown)
    # before any process starts; raises ValueError whose message says what to change.
    check_settings: Callable[[Settings, DeviceKind | None], object] = lambda _s, _kind: None
    # What `editserve pull` fetches into the Hugging Face cache for these settings: the
    # weights a GPU worker loads and any extra file an option needs (hub sources only;
    # local folders and development weights need nothing). Raises ValueError on bad settings.
    weights_source: Callable[[Settings], list[HubFiles]] = lambda _settings: []
    # The ways to run the model and what each needs (GPU memory, host RAM, GPU generation),
    # computed from the card's memory figures: `editserve doctor` and the README's GPU guide.
    memory_estimates: Callable[[Settings], list[MemoryEstimate]] = lambda _settings: []
    # The operator's LoRAs that fit the model ({"name", "path", "size_bytes"} each): what a
    # request's ``loras`` may name, listed on the model card.
    loras: Callable[[Settings], list[dict[str, Any]]] = lambda _settings: []

    def schema_for(self, settings: Settings) -> dict[str, Any]:
        """The request schema with this server's defaults filled in."""
        schema = self.request_schema()
        for name, value in self.default_overrides(settings).items():
            if name in schema.get("properties", {}):
                schema["properties"][name]["default"] = value
        return schema

    def validate_params(self, fields: Mapping[str, Any], settings: Settings) -> BaseModel:
        """Validate a request's model fields; server defaults fill what it leaves out.

        Raises pydantic's ValidationError; the caller words it for the client.
        """
        params = self.params_model.model_validate(dict(fields))
        overrides = {
            name: value
            for name, value in self.default_overrides(settings).items()
            if name not in params.model_fields_set
        }
        if overrides:
            params = self.params_model.model_validate({**fields, **overrides})
        return params

    def input_refs(self, params: BaseModel) -> list[str]:
        """The request's input image references, in order."""
        refs: list[str] = getattr(params, "input_image", [])
        return list(refs)

    def adapter_class(self) -> type:
        module_name, _, class_name = self.adapter_path.partition(":")
        return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]
