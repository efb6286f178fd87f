"""A family member's registry entry, built the one way: every Qwen-Image-Edit member (2509,
2511, v1) hands its variant, card text and request model to :func:`family_spec`, and so do
the text-to-image members (models/qwen_image/specs.py), with their kind and their sizing.

The spec's jobs, options, weights sources, LoRA checks and memory figures are the family's;
what differs lives in the variant, the request model and (text-to-image) the sizing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from pydantic import BaseModel

from editserve.core.settings import Settings
from editserve.models.annotators.registry import annotators_card
from editserve.models.qwen_image_edit.request.jobs import job_builder
from editserve.models.qwen_image_edit.request.loras import check_loras, fitting_loras
from editserve.models.qwen_image_edit.request.memory import MEMORY_CARD, memory_estimates
from editserve.models.qwen_image_edit.request.options import check_options, preset_defaults
from editserve.models.qwen_image_edit.request.schema import request_schema
from editserve.models.qwen_image_edit.request.sizing_plan import plan_size
from editserve.models.qwen_image_edit.request.sources import weights_source
from editserve.models.qwen_image_edit.variant import QwenVariant
from editserve.models.spec import ModelKind, ModelSpec, SizePlan

# A member's sizing: (validated params, input sizes, settings) -> the output size.
Sizer = Callable[[Any, list[tuple[int, int]], Settings], SizePlan]


def tiny_warning(variant: QwenVariant) -> str:
    return (
        "DEVELOPMENT WEIGHTS: this server runs a tiny random-weight model of the "
        f"{variant.display} architecture (no GPU was found, or model_weights=tiny). "
        f"Outputs are noise. Set EDITSERVE_MODEL_WEIGHTS={variant.hub_id} on a GPU host."
    )


def family_card(
    variant: QwenVariant,
    *,
    created: int,
    display_name: str,
    summary: str,
    description: str,
    released_at: str,
) -> dict[str, Any]:
    """The hosted API's model fields for a family member (self-hosted: no prices). A
    member that takes more than one picture takes a control map too: its card lists the
    annotators (type, method, weights, licence) the `control` field can ask for."""
    edits = variant.takes_images
    extra = {"control_annotators": annotators_card()} if variant.max_images > 1 else {}
    return {
        **extra,
        "id": variant.model_id,
        "object": "model",
        "created": created,
        "owned_by": "qwen",
        "display_name": display_name,
        "summary": summary,
        "description": description,
        "model_type": "base",
        "endpoint": "/images/edit" if edits else "/images/generate",
        "capabilities": {"input": ["text", "image"] if edits else ["text"], "output": ["image"]},
        # A self-hosted server charges nothing: the hosted API's cost fields stay null.
        "pricing": {"method": "image", "cost_per_image": None},
        "fine_tuning": None,
        "deployments": [],
        "developer": {"name": "Qwen", "logo": None},
        "source_model": variant.hub_id,
        "image_url": None,
        "released_at": released_at,
        "parameter_count": 20_000_000_000,
        # Every Qwen-Image release (edit and text-to-image) is published under Apache 2.0.
        "license": "Apache-2.0",
        "memory": MEMORY_CARD,
    }


def family_spec(
    variant: QwenVariant,
    *,
    aliases: tuple[str, ...],
    card: dict[str, Any],
    params_model: type[BaseModel],
    adapter_path: str,
    kind: ModelKind = "edit",
    sizer: Sizer = plan_size,
    pipeline_args: tuple[str, ...] = (),
) -> ModelSpec:
    """The registry entry of `variant`; `sizer` sizes its requests (after the LoRA check);
    the request fields named in `pipeline_args` go to the pipeline call as they are."""
    return ModelSpec(
        id=variant.model_id,
        aliases=aliases,
        params_model=params_model,
        card=card,
        request_schema=partial(request_schema, params_model),
        adapter_path=adapter_path,
        plan_size=partial(_plan_size, variant=variant, sizer=sizer),
        build_job=job_builder(params_model, pipeline_args),
        tiny_warning=tiny_warning(variant),
        kind=kind,
        # A Lightning preset makes its step count and CFG 1.0 the request defaults.
        default_overrides=preset_defaults,
        check_settings=partial(check_options, variant=variant),
        weights_source=partial(weights_source, variant=variant),
        memory_estimates=memory_estimates,
        loras=partial(_loras, variant=variant),
    )


def _plan_size(
    params: Any,
    input_sizes: list[tuple[int, int]],
    settings: Settings,
    *,
    variant: QwenVariant,
    sizer: Sizer,
) -> SizePlan:
    """Check the request's LoRAs (local files: against the model, from their headers),
    then size it."""
    overrides = dict(variant.transformer_overrides)
    check_loras(params.loras, settings.for_model(variant.model_id), overrides)
    return sizer(params, input_sizes, settings)


def _loras(settings: Settings, *, variant: QwenVariant) -> list[dict[str, Any]]:
    overrides = dict(variant.transformer_overrides)
    return fitting_loras(settings.for_model(variant.model_id), overrides)
