"""Model id (or alias) → everything editserve knows about that model.

Adding a model family means adding one ModelSpec; nothing else branches on model ids.
Nothing here imports torch: adapters are named by import path and loaded by workers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from editserve.config import Settings
from editserve.devices import DeviceKind
from editserve.errors import NotFound


@dataclass(frozen=True)
class SizePlan:
    width: int
    height: int
    area: int


@dataclass(frozen=True)
class ModelSpec:
    id: str
    aliases: tuple[str, ...]
    params_model: type[BaseModel]
    card: dict[str, Any]
    request_schema: Callable[[], dict[str, Any]]
    # "package.module:ClassName" of the ModelAdapter, imported only in workers.
    adapter_path: str
    # (validated params, input sizes [(w, h)], settings) → output size
    plan_size: Callable[[Any, list[tuple[int, int]], Settings], SizePlan]
    # Server-dependent defaults (e.g. a step-distilled preset changes the default steps
    # and CFG): applied to fields a request leaves out, and shown in the served schema.
    default_overrides: Callable[[Settings], dict[str, Any]] = lambda _settings: {}
    # Refuse settings that cannot work on a device kind ("cpu" | "cuda" | None = unknown)
    # before any process starts; raises ValueError whose message says what to change.
    check_settings: Callable[[Settings, DeviceKind | None], object] = lambda _s, _kind: None

    def schema_for(self, settings: Settings) -> dict[str, Any]:
        schema = self.request_schema()
        for name, value in self.default_overrides(settings).items():
            if name in schema.get("properties", {}):
                schema["properties"][name]["default"] = value
        return schema

    def adapter_class(self) -> type:
        module_name, _, class_name = self.adapter_path.partition(":")
        return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


class ModelRegistry:
    def __init__(self, specs: list[ModelSpec]) -> None:
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


def default_registry() -> ModelRegistry:
    from editserve.models.qwen_edit_plus.spec import SPEC as QWEN_IMAGE_EDIT_PLUS

    return ModelRegistry([QWEN_IMAGE_EDIT_PLUS])
