"""The three Qwen-Image-Edit models in the registry: ids and aliases, their request models,
exact sizes (width/height) and output_quality validation, and their variants' real-config
differences. No pipeline is loaded here (test_qwen_family_parity.py runs the tiny twins)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from editserve.core.errors import InvalidParams
from editserve.core.settings import Settings
from editserve.models.qwen_image_edit.members import EDIT_2509 as V2509
from editserve.models.qwen_image_edit.members import EDIT_2511 as V2511
from editserve.models.qwen_image_edit.members import EDIT_V1 as V1
from editserve.models.qwen_image_edit.request.options import lightning_lora_source, model_options
from editserve.models.qwen_image_edit.request.weights_choice import (
    resolve_weights,
    tiny_weights_folder,
)
from editserve.models.registry import default_registry
from editserve.services.generations.requests import describe_validation_error

IMAGE = "data:image/png;base64,AAAA"
SETTINGS = Settings()


def _params(model: str, **fields: Any) -> Any:
    spec = default_registry().get(model)
    return spec, spec.validate_params(
        {"prompt": "edit it", "input_image": IMAGE, **fields}, SETTINGS
    )


def _error(model: str, **fields: Any) -> str:
    spec = default_registry().get(model)
    try:
        params = spec.validate_params(
            {"prompt": "edit it", "input_image": IMAGE, **fields}, SETTINGS
        )
        spec.plan_size(params, [(64, 64)], SETTINGS)
    except ValidationError as exc:
        return describe_validation_error(exc)
    except InvalidParams as exc:
        return str(exc)
    raise AssertionError(f"{fields} was accepted")


def test_three_models_with_2509_first_and_its_aliases() -> None:
    registry = default_registry()
    # the edit family first; then the layered model, the other one called with a picture
    # (test_qwen_image_layered_family.py); the text-to-image models follow
    # (test_qwen_image_family.py)
    family = ["qwen-image-edit-plus", "qwen-image-edit-2511", "qwen-image-edit"]
    assert [spec.id for spec in registry.all()][:3] == family
    assert [spec.id for spec in registry.all() if spec.kind == "edit"] == [
        *family,
        "qwen-image-layered",
    ]
    assert registry.default.id == "qwen-image-edit-plus"
    for alias in ("qwen-image-edit-2509", "Qwen/Qwen-Image-Edit-2509"):
        assert registry.get(alias).id == "qwen-image-edit-plus"
    assert registry.get("Qwen/Qwen-Image-Edit-2511").id == "qwen-image-edit-2511"
    assert registry.get("Qwen/Qwen-Image-Edit").id == "qwen-image-edit"


def test_each_card_names_its_model_and_weights() -> None:
    for spec, hub_id in zip(
        default_registry().all()[:3],
        ("Qwen/Qwen-Image-Edit-2509", "Qwen/Qwen-Image-Edit-2511", "Qwen/Qwen-Image-Edit"),
        strict=True,
    ):
        assert spec.card["id"] == spec.id
        assert spec.card["source_model"] == hub_id
        assert spec.card["pricing"] == {"method": "image", "cost_per_image": None}
        assert hub_id in spec.tiny_warning
        assert spec.adapter_class().variant.model_id == spec.id


def test_v1_takes_exactly_one_image_and_its_own_defaults() -> None:
    message = _error("qwen-image-edit", input_image=[IMAGE, IMAGE])
    assert message.startswith("input_image:") and "at most 1" in message
    _spec, params = _params("qwen-image-edit")
    assert params.num_inference_steps == 50 and params.true_cfg_scale == 4.0
    schema = default_registry().get("qwen-image-edit").schema_for(SETTINGS)
    assert schema["properties"]["input_image"]["maxItems"] == 1
    assert schema["properties"]["num_inference_steps"]["default"] == 50
    # 2509 and 2511 keep 1-3 images and 40 steps
    for model in ("qwen-image-edit-plus", "qwen-image-edit-2511"):
        _spec, params = _params(model, input_image=[IMAGE] * 3)
        assert params.num_inference_steps == 40


def test_v1_job_defaults_come_from_its_request_model() -> None:
    spec = default_registry().get("qwen-image-edit")
    job = spec.build_job({"prompt": "x"}, [], seed=1, width=64, height=64, area=4096)
    assert job.num_inference_steps == 50


@pytest.mark.parametrize(
    "model", ["qwen-image-edit-plus", "qwen-image-edit-2511", "qwen-image-edit"]
)
def test_exact_sizes_override_the_aspect_ratio(model: str) -> None:
    spec, params = _params(model, width=1280, height=720, aspect_ratio="1:1")
    plan = spec.plan_size(params, [(64, 48)], SETTINGS)
    assert (plan.width, plan.height) == (1280, 720)
    assert plan.area == SETTINGS.output_area  # the VAE copies stay at the native area
    spec, params = _params(model, width=2048, height=2048)
    assert (spec.plan_size(params, [(64, 48)], SETTINGS).width) == 2048


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"width": 1000, "height": 512}, "width: must be a positive multiple of 16 (got 1000)"),
        ({"width": 512, "height": 520}, "height: must be a positive multiple of 16 (got 520)"),
        ({"width": 512}, "height: required when width is given (give both or neither)"),
        ({"height": 512}, "width: required when height is given (give both or neither)"),
        ({"width": 240, "height": 512}, "width: must be between 256 and 2048 pixels (got 240)"),
        ({"width": 512, "height": 2064}, "height: must be between 256 and 2048 pixels (got 2064)"),
        ({"output_quality": 0}, "output_quality: Input should be greater than or equal to 1"),
        ({"output_quality": 101}, "output_quality: Input should be less than or equal to 100"),
    ],
)
def test_size_and_quality_errors_name_the_field_and_rule(
    fields: dict[str, Any], expected: str
) -> None:
    assert _error("qwen-image-edit-plus", **fields) == expected


def test_the_bounds_are_settings() -> None:
    settings = Settings(exact_size_max_side=4096, exact_size_max_area=1024 * 1024)
    spec = default_registry().default
    params = spec.validate_params(
        {"prompt": "x", "input_image": IMAGE, "width": 4096, "height": 256}, settings
    )
    assert spec.plan_size(params, [(64, 64)], settings).width == 4096
    params = spec.validate_params(
        {"prompt": "x", "input_image": IMAGE, "width": 2048, "height": 1024}, settings
    )
    with pytest.raises(InvalidParams, match=r"^width: width x height must be at most 1048576"):
        spec.plan_size(params, [(64, 64)], settings)


def test_output_quality_defaults_to_95() -> None:
    _spec, params = _params("qwen-image-edit-plus")
    assert params.output_quality == 95


def test_variants_encode_the_real_configs_differences() -> None:
    assert V2509.pipeline_class == V2511.pipeline_class == "QwenImageEditPlusPipeline"
    assert V1.pipeline_class == "QwenImageEditPipeline"
    assert dict(V2511.transformer_overrides) == {"zero_cond_t": True}
    assert not V2509.transformer_overrides and not V1.transformer_overrides
    assert (V2509.max_images, V2511.max_images, V1.max_images) == (3, 3, 1)
    assert len({V2509.tiny_folder_name, V2511.tiny_folder_name, V1.tiny_folder_name}) == 3


def test_each_model_has_its_lightning_files() -> None:
    plus_file = "Qwen-Image-Edit-2509/Qwen-Image-Edit-2509-Lightning-4steps-V1.0-bf16.safetensors"
    cases = [
        (V2509, "lightx2v/Qwen-Image-Lightning", plus_file),
        (
            V2511,
            "lightx2v/Qwen-Image-Edit-2511-Lightning",
            "Qwen-Image-Edit-2511-Lightning-4steps-V1.0-bf16.safetensors",
        ),
        (
            V1,
            "lightx2v/Qwen-Image-Lightning",
            "Qwen-Image-Edit-Lightning-4steps-V1.0-bf16.safetensors",
        ),
    ]
    for variant, repo, filename in cases:
        source = lightning_lora_source(None, 4, "bf16", variant)
        assert (source.repo, source.filename) == (repo, filename)
    fp32 = lightning_lora_source(None, 8, "fp32", V1)
    assert fp32.filename == "Qwen-Image-Edit-Lightning-8steps-V1.0.safetensors"
    options = model_options(Settings(lightning="8"), V2511)
    assert options.lightning_lora is not None
    assert options.lightning_lora.filename == (
        "Qwen-Image-Edit-2511-Lightning-8steps-V1.0-bf16.safetensors"
    )


def test_weights_auto_and_tiny_are_per_model(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path)
    for variant in (V2509, V2511, V1):
        choice = resolve_weights(settings, True, variant)
        assert (choice.kind, choice.location) == ("hub", variant.hub_id)
        tiny = resolve_weights(Settings(data_dir=tmp_path, model_weights="tiny"), False, variant)
        assert tiny.location == str(tmp_path / "models" / variant.tiny_folder_name)
    custom = Settings(data_dir=tmp_path, tiny_weights_dir=tmp_path / "t" / "mine")
    assert tiny_weights_folder(custom, V2509) == tmp_path / "t" / "mine"
    assert tiny_weights_folder(custom, V2511) == tmp_path / "t" / V2511.tiny_folder_name
