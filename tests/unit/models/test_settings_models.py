"""Settings of a server that serves several models: EDITSERVE_MODELS and the per-model
weights and revisions, checked against the registry at start-up (models.registry's
resolve_models: the settings themselves know no registry)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from editserve.core.settings import Settings, load_settings
from editserve.models.registry import default_registry, resolve_models, served_registry

SPECS = default_registry().all()
FIRST = SPECS[0]
LAST = SPECS[-1]


def test_the_default_is_the_registry_default() -> None:
    assert Settings().models == []
    assert resolve_models(Settings()).models == [default_registry().default.id]
    assert served_registry(Settings()).default.id == default_registry().default.id


def test_unknown_models_are_refused_with_the_known_ids() -> None:
    with pytest.raises(ValueError, match="EDITSERVE_MODELS: unknown model 'no-such'") as info:
        resolve_models(Settings(models="no-such"))
    assert all(spec.id in str(info.value) for spec in SPECS)
    with pytest.raises(ValueError, match="MODEL_WEIGHTS_PER_MODEL: unknown model 'x'"):
        resolve_models(Settings(model_weights_per_model="x=tiny"))


def test_aliases_become_ids_in_order_without_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    names = [LAST.id.upper(), *(spec.aliases[0] for spec in SPECS if spec.aliases), LAST.id]
    monkeypatch.setenv("EDITSERVE_MODELS", ", ".join(names))
    served = resolve_models(load_settings()).models
    assert served[0] == LAST.id and len(served) == len(set(served))
    assert set(served) <= {spec.id for spec in SPECS}


@pytest.mark.parametrize(
    "value",
    [f"{LAST.id}=/models/last", json.dumps({LAST.id: "/models/last"})],
    ids=["pairs", "json"],
)
def test_per_model_weights_and_revisions(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("EDITSERVE_MODELS", f"{FIRST.id},{LAST.id}")
    monkeypatch.setenv("EDITSERVE_MODEL_WEIGHTS", "/models/first")
    monkeypatch.setenv("EDITSERVE_MODEL_REVISION", "r1")
    monkeypatch.setenv("EDITSERVE_MODEL_WEIGHTS_PER_MODEL", value)
    settings = resolve_models(load_settings())
    first, last = settings.for_model(FIRST.id), settings.for_model(LAST.id)
    assert (first.model_weights, first.model_revision) == ("/models/first", "r1")
    assert (last.model_weights, last.model_revision) == ("/models/last", None)
    # a worker started by `serve` reads the same settings back
    env = settings.for_child_env()
    monkeypatch.setenv(
        "EDITSERVE_MODEL_WEIGHTS_PER_MODEL", env["EDITSERVE_MODEL_WEIGHTS_PER_MODEL"]
    )
    monkeypatch.setenv("EDITSERVE_MODELS", env["EDITSERVE_MODELS"])
    again = resolve_models(load_settings())
    assert again.models == settings.models
    assert again.model_weights_per_model == settings.model_weights_per_model


def test_auto_and_tiny_apply_to_every_model_a_folder_to_the_first() -> None:
    tiny = Settings(models=[FIRST.id, LAST.id], model_weights="tiny")
    assert tiny.for_model(LAST.id).model_weights == "tiny"
    folder = Settings(models=[FIRST.id, LAST.id], model_weights="/models/first")
    assert folder.for_model(FIRST.id).model_weights == "/models/first"
    assert folder.for_model(LAST.id).model_weights == (
        "auto" if LAST is not FIRST else "/models/first"
    )


def test_malformed_pairs_are_refused() -> None:
    with pytest.raises(ValidationError, match="model-id=value"):
        Settings(model_weights_per_model="just-a-path")
