"""Model id (or alias) → its spec. Adding a family: its folder plus one line below; adding a
member of a family: data in the family's folder.

Nothing else in editserve branches on model ids; nothing here imports torch.
"""

from __future__ import annotations

from editserve.core.errors import NotFound
from editserve.core.settings import Settings
from editserve.models.qwen_image.specs import SPECS as QWEN_IMAGE
from editserve.models.qwen_image_edit.specs import SPECS as QWEN_IMAGE_EDIT
from editserve.models.qwen_image_layered.specs import SPECS as QWEN_IMAGE_LAYERED
from editserve.models.spec import ModelSpec, SizePlan

__all__ = [
    "ModelRegistry",
    "ModelSpec",
    "SizePlan",
    "default_registry",
    "resolve_models",
    "served_registry",
]


class ModelRegistry:
    def __init__(self, specs: list[ModelSpec]) -> None:
        if not specs:
            raise ValueError("a registry needs at least one model")
        self._specs = {spec.id: spec for spec in specs}
        self._by_name: dict[str, ModelSpec] = {}
        for spec in specs:
            for name in (spec.id, *spec.aliases):
                self._by_name[name.lower()] = spec

    def get(self, name: str) -> ModelSpec:
        spec = self._by_name.get(name.lower())
        if spec is None:
            raise NotFound(f"Model not found: {name}", title="Model not found")
        return spec

    def find(self, name: str) -> ModelSpec | None:
        return self._by_name.get(name.lower())

    def all(self) -> list[ModelSpec]:
        return list(self._specs.values())

    @property
    def default(self) -> ModelSpec:
        """The first model: what a worker serves when none is named."""
        return next(iter(self._specs.values()))


def default_registry() -> ModelRegistry:
    """Every model editserve knows: a family's entries, in its order. The first is the
    default (what a worker serves when none is named): the edit family first, then the
    layered model (also called with a picture), then the text-to-image models."""
    return ModelRegistry([*QWEN_IMAGE_EDIT, *QWEN_IMAGE_LAYERED, *QWEN_IMAGE])


def resolve_models(settings: Settings, known: ModelRegistry | None = None) -> Settings:
    """The settings with every model name made a registered id: the served models
    (EDITSERVE_MODELS; none: the registry's first) and the per-model settings' keys.

    Raises ValueError naming the setting and the known ids, for an unknown model: what a
    process checks as it starts (the settings themselves know no registry)."""
    known = known or default_registry()
    ids = ", ".join(spec.id for spec in known.all())

    def resolve(name: str, setting: str) -> str:
        spec = known.find(name)
        if spec is None:
            raise ValueError(f"EDITSERVE_{setting}: unknown model {name!r} (known: {ids})")
        return spec.id

    served = [resolve(name, "MODELS") for name in settings.models] or [known.default.id]
    update: dict[str, object] = {"models": list(dict.fromkeys(served))}
    for setting in ("model_weights_per_model", "model_revision_per_model"):
        mapping = getattr(settings, setting)
        update[setting] = {resolve(k, setting.upper()): v for k, v in mapping.items()}
    return settings.model_copy(update=update)


def served_registry(settings: Settings, known: ModelRegistry | None = None) -> ModelRegistry:
    """The models this server serves (``settings.models``), first one the default."""
    known = known or default_registry()
    served = resolve_models(settings, known).models
    return ModelRegistry([known.get(name) for name in served])
