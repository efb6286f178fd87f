"""The text-to-image models (qwen-image, qwen-image-2512) in the registry: ids, kind and
cards; their request model (the hosted API's fields, guidance and true_cfg_scale, unknown
fields refused); sizing (Qwen's native sizes, scaled by the output area; exact sizes);
their records' real-config facts, Lightning files, weights sources and memory figures.
No pipeline is loaded here (test_qwen_image_runtime.py runs the tiny twins)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from safetensors.numpy import save_file

from editserve.core.errors import InvalidParams
from editserve.core.settings import Settings
from editserve.hub.sources import HubFiles
from editserve.models.qwen_image.members import QWEN_IMAGE, QWEN_IMAGE_2512
from editserve.models.qwen_image.request.sizing import NATIVE_SIZES
from editserve.models.qwen_image_edit.members import EDIT_2509
from editserve.models.qwen_image_edit.request.options import (
    OptionsError,
    check_options,
    lightning_lora_source,
)
from editserve.models.qwen_image_edit.request.weights_choice import resolve_weights
from editserve.models.registry import default_registry
from editserve.services.generations.requests import describe_validation_error

MODELS = ("qwen-image", "qwen-image-2512")
SETTINGS = Settings()
# Qwen's published sizes (QwenLM/Qwen-Image README, aspect_ratios), written out again here
# so that a change to the table in the code is a failing test.
QWEN_SIZES = {
    "1:1": (1328, 1328),
    "16:9": (1664, 928),
    "9:16": (928, 1664),
    "4:3": (1472, 1104),
    "3:4": (1104, 1472),
    "3:2": (1584, 1056),
    "2:3": (1056, 1584),
}


def _spec(model: str) -> Any:
    return default_registry().get(model)


def _params(model: str, settings: Settings = SETTINGS, **fields: Any) -> Any:
    return _spec(model).validate_params({"prompt": "a red fox", **fields}, settings)


def _error(model: str, fields: dict[str, Any], settings: Settings = SETTINGS) -> str:
    spec = _spec(model)
    try:
        params = spec.validate_params(fields, settings)
        spec.plan_size(params, [], settings)
    except ValidationError as exc:
        return describe_validation_error(exc)
    except InvalidParams as exc:
        return str(exc)
    raise AssertionError(f"{fields} was accepted")


def _size(model: str, settings: Settings = SETTINGS, **fields: Any) -> tuple[int, int]:
    plan = _spec(model).plan_size(_params(model, settings, **fields), [], settings)
    return plan.width, plan.height


# --- the registry ------------------------------------------------------------------------------


def test_the_generate_models_follow_the_edit_family_and_the_default_stays() -> None:
    registry = default_registry()
    ids = [spec.id for spec in registry.all()]
    assert ids[-2:] == list(MODELS)
    assert registry.default.id == "qwen-image-edit-plus"
    assert {spec.id: spec.kind for spec in registry.all()} == {
        **{model: "edit" for model in ids[:-2]},
        "qwen-image": "generate",
        "qwen-image-2512": "generate",
    }
    assert registry.get("Qwen/Qwen-Image").id == "qwen-image"
    assert registry.get("qwen/qwen-image-2512").id == "qwen-image-2512"


@pytest.mark.parametrize(
    ("model", "hub_id", "released"),
    [
        ("qwen-image", "Qwen/Qwen-Image", "2025-08-04"),
        ("qwen-image-2512", QWEN_IMAGE_2512.hub_id, "2025-12-31"),
    ],
)
def test_each_card_is_a_text_to_image_card(model: str, hub_id: str, released: str) -> None:
    spec = _spec(model)
    card = spec.card
    assert card["id"] == model and card["source_model"] == hub_id
    assert card["endpoint"] == "/images/generate"
    assert card["capabilities"] == {"input": ["text"], "output": ["image"]}
    assert card["license"] == "Apache-2.0"
    assert card["parameter_count"] == 20_000_000_000
    assert card["memory"]["weights_bytes"]["transformer"] > 40e9
    assert card["released_at"].startswith(released)
    assert card["pricing"] == {"method": "image", "cost_per_image": None}
    assert hub_id in spec.tiny_warning
    assert spec.adapter_path.startswith("editserve.models.qwen_image.runtime.adapter:")
    assert spec.adapter_class().variant.model_id == model
    # the edit cards keep their edit endpoint
    assert _spec("qwen-image-edit-plus").card["endpoint"] == "/images/edit"


# --- the request model ------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_the_hosted_defaults(model: str) -> None:
    params = _params(model)
    assert (params.aspect_ratio, params.image_size) == ("16:9", "optimize_for_quality")
    assert (params.num_inference_steps, params.true_cfg_scale, params.guidance) == (30, 3.0, None)
    assert (params.output_format, params.output_quality) == ("webp", 80)
    assert (params.negative_prompt, params.seed, params.preview, params.loras) == (
        " ",
        None,
        False,
        [],
    )
    schema = _spec(model).schema_for(SETTINGS)
    assert schema["required"] == ["prompt"]
    assert schema["title"] == model
    assert "input_image" not in schema["properties"]
    assert schema["properties"]["guidance"]["type"] == "number"
    assert "default" not in schema["properties"]["guidance"]
    assert schema["properties"]["aspect_ratio"]["default"] == "16:9"
    assert set(schema["properties"]["aspect_ratio"]["enum"]) == set(QWEN_SIZES)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"prompt": ""}, "prompt: Prompt cannot be empty"),
        ({"prompt": "   \n"}, "prompt: Prompt cannot be empty"),
        ({}, "prompt: required field is missing"),
        ({"prompt": "x", "input_image": ["https://x.test/a.png"]}, "input_image: unknown field"),
        ({"prompt": "x", "go_fast": True}, "go_fast: unknown field"),
        ({"prompt": "x", "aspect_ratio": "auto"}, "aspect_ratio: Input should be"),
        ({"prompt": "x", "image_size": "huge"}, "image_size: Input should be"),
        ({"prompt": "x", "guidance": 10.5}, "guidance: Input should be less than or equal to 10"),
        ({"prompt": "x", "guidance": -1}, "guidance: Input should be greater than or equal to 0"),
        ({"prompt": "x", "num_inference_steps": 51}, "num_inference_steps: Input should be less"),
        ({"prompt": "x", "output_format": "gif"}, "output_format: Input should be"),
        ({"prompt": "x", "output_quality": 101}, "output_quality: Input should be less than"),
        ({"prompt": "x", "width": 100, "height": 64}, "width: must be a positive multiple of 16"),
        ({"prompt": "x", "width": 512}, "height: required when width is given"),
        ({"prompt": "x", "width": 240, "height": 512}, "width: must be between 256 and 2048"),
    ],
)
def test_refusals_name_the_field_and_rule(fields: dict[str, Any], expected: str) -> None:
    for model in MODELS:
        assert _error(model, fields).startswith(expected)


def test_guidance_is_true_cfg_scale_and_true_cfg_scale_wins() -> None:
    assert _params("qwen-image", guidance=4.5).true_cfg_scale == 4.5
    assert _params("qwen-image", guidance="2.5").true_cfg_scale == 2.5  # as pydantic reads it
    assert _params("qwen-image", true_cfg_scale=6).true_cfg_scale == 6.0
    both = _params("qwen-image", guidance=4.5, true_cfg_scale=2.0)
    assert (both.true_cfg_scale, both.guidance) == (2.0, 4.5)
    # the hosted range starts at 0: below 1 there is no CFG (stored as 1.0)
    assert _params("qwen-image", guidance=0).true_cfg_scale == 1.0
    assert _params("qwen-image", guidance=0.5).true_cfg_scale == 1.0
    # the job takes the winner
    spec = _spec("qwen-image")
    params = _params("qwen-image", guidance=4.5)
    job = spec.build_job(params.model_dump(), [], seed=1, width=64, height=64, area=4096)
    assert (job.true_cfg_scale, job.images, job.num_inference_steps) == (4.5, [], 30)


def test_a_lightning_preset_sets_the_defaults_a_request_leaves_out() -> None:
    settings = Settings(lightning="4")
    preset = _params("qwen-image", settings)
    assert (preset.num_inference_steps, preset.true_cfg_scale) == (4, 1.0)
    # guidance given: it is the request's CFG scale, over the preset's 1.0
    assert _params("qwen-image", settings, guidance=3.5).true_cfg_scale == 3.5
    assert _params("qwen-image", settings, num_inference_steps=8).num_inference_steps == 8
    schema = _spec("qwen-image").schema_for(settings)["properties"]
    assert schema["num_inference_steps"]["default"] == 4
    assert schema["true_cfg_scale"]["default"] == 1.0


def test_stored_params_build_the_job_with_the_request_models_defaults() -> None:
    spec = _spec("qwen-image-2512")
    job = spec.build_job({"prompt": "x"}, [], seed=9, width=96, height=64, area=4096)
    assert (job.num_inference_steps, job.true_cfg_scale, job.negative_prompt) == (30, 3.0, " ")
    assert (job.width, job.height, job.seed, job.loras) == (96, 64, 9, ())


# --- sizing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_quality_sizes_are_qwens_native_sizes_at_the_default_area(model: str) -> None:
    assert NATIVE_SIZES == QWEN_SIZES
    for ratio, size in QWEN_SIZES.items():
        assert _size(model, aspect_ratio=ratio) == size
        assert _size(model, aspect_ratio=ratio, image_size="optimize_for_quality") == size


@pytest.mark.parametrize("area", [64 * 64, 128 * 128, 512 * 512, 768 * 768, 2048 * 2048])
def test_quality_sizes_scale_with_the_output_area(area: int) -> None:
    settings = Settings(output_area=area)
    scale = math.sqrt(area / (1024 * 1024))
    for ratio, (native_w, native_h) in QWEN_SIZES.items():
        width, height = _size("qwen-image", settings, aspect_ratio=ratio)
        assert width % 16 == 0 and height % 16 == 0
        assert abs(width - native_w * scale) <= 8 and abs(height - native_h * scale) <= 8
    assert _size("qwen-image", Settings(output_area=64 * 64)) == (112, 64)  # 16:9, tiny


def test_speed_sizes_are_the_ratio_at_the_output_area() -> None:
    for area in (256 * 256, 512 * 512, 1024 * 1024):
        settings = Settings(output_area=area)
        for ratio, (native_w, native_h) in QWEN_SIZES.items():
            width, height = _size(
                "qwen-image", settings, aspect_ratio=ratio, image_size="optimize_for_speed"
            )
            assert width % 32 == 0 and height % 32 == 0  # sized like an edit model's ratio
            named = int(ratio.split(":")[0]) / int(ratio.split(":")[1])
            assert abs(math.log((width * height) / area)) < 0.35
            assert abs(math.log((width / height) / named)) < 0.35
            if area == 1024 * 1024:
                assert width * height < native_w * native_h  # faster than the native size
    fast = {"image_size": "optimize_for_speed"}
    assert _size("qwen-image", aspect_ratio="1:1", **fast) == (1024, 1024)
    assert _size("qwen-image", **fast) == (1376, 768)


def test_preview_uses_the_preview_area_and_exact_sizes_win() -> None:
    settings = Settings(preview_area=512 * 512)
    assert _size("qwen-image", settings, preview=True, aspect_ratio="1:1") == (672, 672)
    plan = _spec("qwen-image").plan_size(_params("qwen-image", preview=True), [], settings)
    assert plan.area == 512 * 512
    exact = _size("qwen-image", aspect_ratio="1:1", width=1280, height=720)
    assert exact == (1280, 720)
    exact = _size("qwen-image", image_size="optimize_for_speed", width=256, height=2048)
    assert exact == (256, 2048)


def test_input_pictures_are_refused_by_the_sizing_too() -> None:
    spec = _spec("qwen-image")
    with pytest.raises(InvalidParams, match="^input_image: "):
        spec.plan_size(_params("qwen-image"), [(64, 64)], SETTINGS)


# --- the members' records ----------------------------------------------------------------------


def test_the_records_encode_the_real_pipeline_and_configs() -> None:
    for variant in (QWEN_IMAGE, QWEN_IMAGE_2512):
        assert variant.pipeline_class == "QwenImagePipeline"
        assert variant.pipeline_module == "diffusers.pipelines.qwenimage.pipeline_qwenimage"
        assert variant.max_images == 0 and not variant.takes_images
        assert "processor" not in variant.components
        assert set(variant.components) == set(EDIT_2509.components) - {"processor"}
        assert not variant.transformer_overrides  # the edit family's transformer config
    assert QWEN_IMAGE.tiny_folder_name != QWEN_IMAGE_2512.tiny_folder_name
    assert QWEN_IMAGE_2512.tiny_folder_name not in (EDIT_2509.tiny_folder_name,)


def test_the_lightning_files_of_each_model() -> None:
    cases = [
        (QWEN_IMAGE, 4, "bf16", "Qwen-Image-Lightning-4steps-V2.0-bf16.safetensors"),
        (QWEN_IMAGE, 8, "fp32", "Qwen-Image-Lightning-8steps-V2.0.safetensors"),
        (QWEN_IMAGE_2512, 4, "bf16", "Qwen-Image-2512-Lightning-4steps-V1.0-bf16.safetensors"),
        (QWEN_IMAGE_2512, 4, "fp32", "Qwen-Image-2512-Lightning-4steps-V1.0-fp32.safetensors"),
    ]
    for variant, steps, dtype, filename in cases:
        source = lightning_lora_source(None, steps, dtype, variant)
        assert (source.kind, source.repo, source.filename) == (
            "hub",
            variant.lightning_repo,
            filename,
        )
    assert QWEN_IMAGE.lightning_repo == "lightx2v/Qwen-Image-Lightning"
    assert QWEN_IMAGE_2512.lightning_repo == "lightx2v/Qwen-Image-2512-Lightning"


def test_2512_has_no_8_step_lightning_lora(tmp_path: Path) -> None:
    with pytest.raises(OptionsError, match="for 4 steps only") as refused:
        check_options(Settings(lightning="8"), None, offline=False, variant=QWEN_IMAGE_2512)
    assert "EDITSERVE_LIGHTNING=4" in str(refused.value)
    with pytest.raises(ValueError, match="for 4 steps only"):
        _spec("qwen-image-2512").check_settings(Settings(lightning="8"), None)
    # an 8-step LoRA of the operator's own is taken as given
    own = tmp_path / "own-8-step.safetensors"
    own.write_bytes(b"x")
    options = check_options(
        Settings(lightning="8", lightning_lora=str(own)),
        None,
        offline=False,
        variant=QWEN_IMAGE_2512,
    )
    assert options.lightning_steps == 8
    assert check_options(Settings(lightning="8"), None, offline=False, variant=QWEN_IMAGE)


def test_pull_fetches_the_pipeline_and_the_presets_lora() -> None:
    assert _spec("qwen-image").weights_source(Settings()) == [
        HubFiles("Qwen/Qwen-Image", None, None, "weights")
    ]
    sources = _spec("qwen-image-2512").weights_source(Settings(lightning="4", model_revision="r"))
    assert sources == [
        HubFiles("Qwen/Qwen-Image-2512", "r", None, "weights"),
        HubFiles(
            "lightx2v/Qwen-Image-2512-Lightning",
            None,
            ("Qwen-Image-2512-Lightning-4steps-V1.0-bf16.safetensors",),
            "Lightning LoRA 4-step",
        ),
    ]
    assert _spec("qwen-image").weights_source(Settings(model_weights="tiny")) == []


def test_weights_are_per_model(tmp_path: Path) -> None:
    for variant in (QWEN_IMAGE, QWEN_IMAGE_2512):
        hub = resolve_weights(Settings(data_dir=tmp_path), True, variant)
        assert (hub.kind, hub.location) == ("hub", variant.hub_id)
        tiny = resolve_weights(Settings(data_dir=tmp_path, model_weights="tiny"), False, variant)
        assert tiny.location == str(tmp_path / "models" / variant.tiny_folder_name)
        auto = resolve_weights(Settings(data_dir=tmp_path), False, variant)
        assert auto.kind == "tiny" and auto.auto_fallback
    beside = Settings(
        data_dir=tmp_path, model_weights="tiny", tiny_weights_dir=tmp_path / "t" / "e"
    )
    assert resolve_weights(beside, False, QWEN_IMAGE).location == str(
        tmp_path / "t" / QWEN_IMAGE.tiny_folder_name
    )


def test_memory_figures_are_the_familys() -> None:
    edit = _spec("qwen-image-edit-plus")
    for model in MODELS:
        spec = _spec(model)
        assert spec.memory_estimates(SETTINGS) == edit.memory_estimates(SETTINGS)
        assert spec.card["memory"] == edit.card["memory"]


# --- request LoRAs are checked at enqueue, as for the edit models --------------------------------


def _lora(path: Path, in_features: int) -> Path:
    # A LoRA of one attention projection of the tiny transformer (32 features).
    save_file(
        {
            "transformer.transformer_blocks.0.attn.to_q.lora_A.weight": np.zeros(
                (4, in_features), dtype=np.float32
            ),
            "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": np.zeros(
                (32, 4), dtype=np.float32
            ),
        },
        str(path),
    )
    return path


def test_request_loras_are_checked_against_the_model_at_enqueue(tmp_path: Path) -> None:
    _lora(tmp_path / "fits.safetensors", 32)
    _lora(tmp_path / "wrong.safetensors", 40)
    settings = Settings(lora_dir=tmp_path, model_weights="tiny")
    spec = _spec("qwen-image")
    plan = spec.plan_size(_params("qwen-image", settings, loras=[{"path": "fits"}]), [], settings)
    assert plan.width > 0
    message = _error("qwen-image", {"prompt": "x", "loras": [{"path": "wrong"}]}, settings)
    assert message.startswith("loras[0].path: LoRA 'wrong' does not fit this model")
    assert [lora["name"] for lora in spec.loras(settings)] == ["fits"]
