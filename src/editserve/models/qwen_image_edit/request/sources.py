"""What qwen-image-edit-plus needs from the Hugging Face Hub, for given settings.

The weights (the whole pipeline repo at ``EDITSERVE_MODEL_REVISION``) when they come from
the hub, and the Lightning LoRA file a ``EDITSERVE_LIGHTNING`` preset fuses. Used by
``editserve pull`` (through the spec) and by a worker's start-up (``startup.py``). No torch.
"""

from __future__ import annotations

from editserve.core.settings import Settings
from editserve.hub.sources import HubFiles
from editserve.models.base import ModelLoadError
from editserve.models.qwen_image_edit.request.options import ModelOptions, model_options
from editserve.models.qwen_image_edit.request.weights_choice import WeightsChoice, resolve_weights
from editserve.models.qwen_image_edit.variant import QwenVariant


def hub_sources(choice: WeightsChoice, options: ModelOptions) -> list[HubFiles]:
    """The hub files a load of `choice` with `options` reads."""
    sources: list[HubFiles] = []
    if choice.kind == "hub":
        sources.append(HubFiles(choice.location, choice.revision, None, "weights"))
    lora = options.lightning_lora
    if lora is not None and lora.kind == "hub":
        assert lora.repo is not None and lora.filename is not None
        label = f"Lightning LoRA {options.lightning_steps}-step"
        sources.append(HubFiles(lora.repo, lora.revision, (lora.filename,), label))
    return sources


def weights_source(settings: Settings, variant: QwenVariant) -> list[HubFiles]:
    """What `editserve pull` fetches: what a GPU worker with these settings loads
    (``auto`` means the hub weights there). Raises ValueError on settings that cannot work."""
    try:
        choice = resolve_weights(settings, True, variant)
    except ModelLoadError as exc:
        raise ValueError(str(exc)) from None
    return hub_sources(choice, model_options(settings, variant))


__all__ = ["hub_sources", "weights_source"]
