"""Model id (or alias) → its spec. Adding a model: one folder plus one line below.

Nothing else in editserve branches on model ids; nothing here imports torch.
"""

from __future__ import annotations

from editserve.core.errors import NotFound
from editserve.core.settings import Settings
from editserve.models.spec import ModelSpec, SizePlan

__all__ = ["ModelRegistry", "ModelSpec", "SizePlan", "default_registry", "served_registry"]


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
    from editserve.models.qwen_edit_2511.spec import SPEC as QWEN_IMAGE_EDIT_2511
    from editserve.models.qwen_edit_plus.spec import SPEC as QWEN_IMAGE_EDIT_PLUS
    from editserve.models.qwen_edit_v1.spec import SPEC as QWEN_IMAGE_EDIT

    # The first is the default (what a worker serves when none is named).
    return ModelRegistry([QWEN_IMAGE_EDIT_PLUS, QWEN_IMAGE_EDIT_2511, QWEN_IMAGE_EDIT])


def served_registry(settings: Settings, known: ModelRegistry | None = None) -> ModelRegistry:
    """The models this server serves (``settings.models``), first one the default."""
    known = known or default_registry()
    return ModelRegistry([known.get(name) for name in settings.models])
