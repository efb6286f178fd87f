"""qwen-image-layered in the registry: id, kind and card; its request model (one picture,
an optional prompt, 2-10 layers, the 640/1024 buckets, PNG only; unknown fields refused);
its sizing (the pipeline's own at the default area, scaled to the output area); its job's
pipeline arguments; its record's real-config facts, weights source and Lightning refusal.
No pipeline is loaded here (test_qwen_image_layered_runtime.py runs the tiny twin)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from editserve.core.errors import InvalidParams
from editserve.core.settings import Settings
from editserve.hub.sources import HubFiles
from editserve.models.qwen_image_edit.members import EDIT_2509
from editserve.models.qwen_image_edit.request.options import OptionsError, check_options
from editserve.models.qwen_image_layered.members import LAYERED
from editserve.models.registry import default_registry
from editserve.services.generations.requests import describe_validation_error

MODEL = "qwen-image-layered"
PICTURE = "https://example.test/picture.png"
SETTINGS = Settings()
TINY = Settings(output_area=64 * 64, preview_area=32 * 32)


def _spec() -> Any:
    return default_registry().get(MODEL)


def _params(settings: Settings = SETTINGS, **fields: Any) -> Any:
    return _spec().validate_params({"input_image": PICTURE, **fields}, settings)


def _plan(size: tuple[int, int], settings: Settings = SETTINGS, **fields: Any) -> Any:
    return _spec().plan_size(_params(settings, **fields), [size], settings)


def _error(fields: dict[str, Any], sizes: list[tuple[int, int]] | None = None) -> str:
    spec = _spec()
    try:
        params = spec.validate_params(fields, SETTINGS)
        spec.plan_size(params, [(64, 64)] if sizes is None else sizes, SETTINGS)
    except ValidationError as exc:
        return describe_validation_error(exc)
    except InvalidParams as exc:
        return str(exc)
    raise AssertionError(f"{fields} was accepted")


# --- the registry ------------------------------------------------------------------------------


def test_it_is_an_edit_kind_model_after_the_edit_family() -> None:
    registry = default_registry()
    kinds = [(spec.id, spec.kind) for spec in registry.all()]
    assert kinds[3] == (MODEL, "edit") and registry.default.id == EDIT_2509.model_id
    assert [kind for _, kind in kinds[4:]] == ["generate"] * (len(kinds) - 4)
    spec = registry.get("Qwen/Qwen-Image-Layered")
    assert spec.id == MODEL and spec.kind == "edit"
    card = spec.card
    assert card["endpoint"] == "/images/edit"
    assert card["capabilities"] == {"input": ["text", "image"], "output": ["image"]}
    assert card["source_model"] == "Qwen/Qwen-Image-Layered" and card["license"] == "Apache-2.0"
    assert card["released_at"] == "2025-12-19T00:00:00Z"
    adapter = spec.adapter_class()
    assert adapter.variant is LAYERED and adapter.supports_batch is False


def test_the_record_encodes_the_real_pipeline_and_configs() -> None:
    assert LAYERED.pipeline_class == "QwenImageLayeredPipeline"
    assert LAYERED.pipeline_module == "diffusers.pipelines.qwenimage.pipeline_qwenimage_layered"
    assert dict(LAYERED.transformer_overrides) == {
        "use_additional_t_cond": True,
        "use_layer3d_rope": True,
    }
    assert dict(LAYERED.vae_overrides) == {"input_channels": 4}  # the RGBA VAE
    assert LAYERED.max_images == 1 and LAYERED.layered and "processor" in LAYERED.components
    assert not LAYERED.lightning_files


# --- the request -------------------------------------------------------------------------------


def test_the_defaults_are_qwens_card_and_app() -> None:
    params = _params()
    assert params.input_image == [PICTURE] and params.prompt == ""
    assert (params.layers, params.resolution) == (4, 640)
    assert (params.num_inference_steps, params.true_cfg_scale) == (50, 4.0)
    assert params.negative_prompt == " " and params.output_format == "png"
    assert params.cfg_normalize is True and params.use_en_prompt is True
    schema = _spec().schema_for(SETTINGS)
    assert list(schema["properties"])[:4] == ["input_image", "prompt", "layers", "resolution"]
    assert schema["properties"]["layers"]["minimum"] == 2
    assert schema["properties"]["layers"]["maximum"] == 10
    assert schema["properties"]["resolution"]["enum"] == [640, 1024]
    assert schema["properties"]["output_format"]["enum"] == ["png"]
    assert schema["required"] == ["input_image"]
    assert schema["basic"] == ["input_image", "prompt", "layers"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "input_image: required field is missing"),
        ({"input_image": [PICTURE, PICTURE]}, "input_image: List should have at most 1 item"),
        ({"input_image": []}, "input_image: List should have at least 1 item"),
        ({"input_image": "ftp://x.test/a.png"}, "input_image: item 0: must be an http(s) URL"),
        ({"input_image": PICTURE, "layers": 1}, "layers: Input should be greater than or equal"),
        ({"input_image": PICTURE, "layers": 11}, "layers: Input should be less than or equal"),
        ({"input_image": PICTURE, "resolution": 800}, "resolution: Input should be 640 or 1024"),
        ({"input_image": PICTURE, "output_format": "webp"}, "output_format: Input should be"),
        ({"input_image": PICTURE, "num_inference_steps": 0}, "num_inference_steps: Input should"),
        ({"input_image": PICTURE, "true_cfg_scale": 0.5}, "true_cfg_scale: Input should be"),
        ({"input_image": PICTURE, "aspect_ratio": "1:1"}, "aspect_ratio: unknown field"),
        ({"input_image": PICTURE, "width": 512}, "width: unknown field"),
        ({"input_image": PICTURE, "prompt": "x" * 4001}, "prompt: String should have at most"),
    ],
)
def test_refusals_name_the_field_and_rule(fields: dict[str, Any], expected: str) -> None:
    assert _error(fields).startswith(expected)


def test_the_stored_request_builds_a_job_with_the_pipeline_arguments() -> None:
    params = _params(layers=6, resolution=1024, cfg_normalize=False, use_en_prompt=False)
    job = _spec().build_job(params.model_dump(), [], seed=9, width=96, height=32, area=4096)
    assert job.prompt == "" and job.num_inference_steps == 50 and job.true_cfg_scale == 4.0
    assert (job.width, job.height, job.vae_area, job.seed) == (96, 32, 4096, 9)
    assert dict(job.pipeline_args) == {
        "layers": 6,
        "resolution": 1024,
        "cfg_normalize": False,
        "use_en_prompt": False,
    }
    # a stored request missing a field takes the request model's default
    stored = {"prompt": "a poster", "input_image": [PICTURE]}
    job = _spec().build_job(stored, [], seed=1, width=64, height=64, area=4096)
    assert dict(job.pipeline_args)["layers"] == 4 and job.prompt == "a poster"
    # the other models' jobs carry none
    edit = default_registry().get(EDIT_2509.model_id)
    job = edit.build_job({"prompt": "p"}, [], seed=1, width=64, height=64, area=4096)
    assert job.pipeline_args == ()


# --- sizing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(640, 480), (64, 48), (1000, 333), (333, 1000), (512, 512)])
@pytest.mark.parametrize("resolution", [640, 1024])
def test_at_the_default_area_the_size_is_the_pipelines_own(
    size: tuple[int, int], resolution: int
) -> None:
    """The pipeline's calculate_dimensions(resolution**2, ratio), floored to 16."""
    from diffusers.pipelines.qwenimage.pipeline_qwenimage_layered import calculate_dimensions

    width, height = calculate_dimensions(resolution * resolution, size[0] / size[1])
    plan = _plan(size, resolution=resolution)
    assert (plan.width, plan.height) == (width // 16 * 16, height // 16 * 16)
    assert plan.area == resolution * resolution


def test_the_size_scales_with_the_output_area_and_preview() -> None:
    # a 2:1 picture at a 64x64 output area: 1024 -> 4096 px, 640 -> 1600 px
    assert _plan((128, 64), TINY, resolution=1024) == _plan_of(96, 32, 4096)
    assert _plan((128, 64), TINY, resolution=640) == _plan_of(64, 32, 1600)
    # preview: the preview area instead (never below one 32x32 tile)
    assert _plan((128, 64), TINY, resolution=1024, preview=True) == _plan_of(32, 32, 1024)
    wide = Settings(output_area=2 * 1024 * 1024)
    assert _plan((100, 100), wide, resolution=1024).area == 2 * 1024 * 1024


def _plan_of(width: int, height: int, area: int) -> Any:
    from editserve.models.spec import SizePlan

    return SizePlan(width=width, height=height, area=area)


def test_exactly_one_picture_and_not_too_elongated() -> None:
    assert _error({"input_image": PICTURE}, sizes=[]).startswith(
        "input_image: this model splits exactly one picture (got 0)"
    )
    assert "exactly one picture (got 2)" in _error(
        {"input_image": PICTURE}, sizes=[(64, 64), (64, 64)]
    )
    assert _error({"input_image": PICTURE}, sizes=[(5000, 20)]).startswith(
        "input_image[0]: 5000x20 is too elongated for the model"
    )


# --- settings ----------------------------------------------------------------------------------


def test_it_has_no_lightning_lora_and_says_so() -> None:
    with pytest.raises(OptionsError, match="has no published Lightning LoRA"):
        check_options(Settings(lightning="4"), None, offline=False, variant=LAYERED)
    with pytest.raises(ValueError, match="EDITSERVE_LIGHTNING off"):
        _spec().check_settings(Settings(lightning="8"), None)
    assert check_options(Settings(), None, offline=False, variant=LAYERED).lightning is False


def test_pull_fetches_the_pipeline() -> None:
    assert _spec().weights_source(Settings()) == [
        HubFiles("Qwen/Qwen-Image-Layered", None, None, "weights")
    ]
    assert _spec().weights_source(Settings(model_weights="tiny")) == []
