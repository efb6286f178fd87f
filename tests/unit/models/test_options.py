"""The model options as pure logic: parsing, refusals with what to change, preset defaults,
and the CLI refusing a bad combination before anything starts. No model runs here."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from editserve.commands.main import main as cli
from editserve.core.settings import Settings
from editserve.models.qwen_image_edit.members import EDIT_2509
from editserve.models.qwen_image_edit.request.options import (
    ATTENTION_BACKENDS,
    LIGHTNING_SCHEDULER_OVERRIDES,
    ModelOptions,
    OptionsError,
    check_options,
    device_kind,
    lightning_lora_source,
    model_options,
    preset_defaults,
    warnings_for,
)
from editserve.models.registry import default_registry
from editserve.services.generations.service import GenerationService, QueueEnvelope


def _refusal(device: str | None, offline: bool = False, **values: Any) -> str:
    with pytest.raises(OptionsError) as info:
        check_options(Settings(**values), device, offline=offline, variant=EDIT_2509)  # type: ignore[arg-type]
    return str(info.value)


def test_defaults_are_plain_and_allowed_everywhere() -> None:
    for device in ("cpu", "cuda", None):
        options = check_options(Settings(), device, offline=True, variant=EDIT_2509)  # type: ignore[arg-type]
        assert options == ModelOptions()
    assert ModelOptions().describe() == {
        "memory_mode": "none",
        "lightning": "off",
        "attention_backend": "native",
        "step_cache": "off",
        "compile_repeated_blocks": False,
        "quantization": "none",
    }


@pytest.mark.parametrize(
    ("values", "device", "offline", "says"),
    [
        # FP8 on a CPU
        ({"quantization": "fp8_dynamic"}, "cpu", False, "EDITSERVE_QUANTIZATION=none"),
        ({"quantization": "fp8_weight_only"}, "cpu", False, "needs a CUDA GPU"),
        # offload modes on a CPU
        ({"memory_mode": "model_offload"}, "cpu", False, "EDITSERVE_MEMORY_MODE=none"),
        ({"memory_mode": "group_offload"}, "cpu", False, "nothing to offload to"),
        ({"memory_mode": "sequential_offload"}, "cpu", False, "nothing to offload to"),
        # flash / sage backends on a CPU
        ({"attention_backend": "flash"}, "cpu", False, "on the CPU use one of: native"),
        ({"attention_backend": "sage"}, "cpu", False, "needs a CUDA GPU"),
        ({"attention_backend": "_native_cudnn"}, "cpu", False, "needs a CUDA GPU"),
        # compile with sequential offload (anywhere)
        (
            {"compile_repeated_blocks": True, "memory_mode": "sequential_offload"},
            "cuda",
            False,
            "use memory_mode=group_offload or model_offload, or turn compile off",
        ),
        # FP8 with sequential offload
        (
            {"quantization": "fp8_weight_only", "memory_mode": "sequential_offload"},
            "cuda",
            False,
            "use memory_mode=model_offload or group_offload",
        ),
        # hub-only attention backends offline
        ({"attention_backend": "flash_hub"}, "cuda", True, "HF_HUB_OFFLINE is set"),
        ({"attention_backend": "_flash_3_hub"}, None, True, "unset HF_HUB_OFFLINE"),
        # half-precision kernels with fp32 weights
        ({"attention_backend": "flash", "dtype": "fp32"}, "cuda", False, "EDITSERVE_DTYPE=bf16"),
        ({"attention_backend": "_native_npu"}, "cuda", False, "NPU/XLA"),
        # bad values
        ({"memory_mode": "swap"}, None, False, "EDITSERVE_MEMORY_MODE='swap' is not one of"),
        ({"lightning": "6"}, None, False, "EDITSERVE_LIGHTNING='6' is not one of: off, 4, 8"),
        ({"attention_backend": "fast"}, None, False, "not a diffusers attention backend"),
        ({"step_cache": "teacache"}, None, False, "off, first_block"),
        ({"step_cache_threshold": 1.5}, None, False, "between 0 and 1"),
        ({"quantization": "int4"}, None, False, "none, fp8_weight_only, fp8_dynamic"),
        ({"group_offload_blocks": 0}, None, False, "at least 1"),
        ({"lightning_lora": "/x.safetensors"}, None, False, "EDITSERVE_LIGHTNING is off"),
    ],
)
def test_impossible_combinations_are_refused_saying_what_to_change(
    values: dict[str, Any], device: str | None, offline: bool, says: str
) -> None:
    assert says in _refusal(device, offline, **values)


def test_the_same_options_are_fine_where_they_can_run() -> None:
    gpu = check_options(
        Settings(
            quantization="fp8_dynamic",
            memory_mode="group_offload",
            group_offload_blocks=2,
            attention_backend="flash",
            compile_repeated_blocks=True,
            step_cache="first_block",
            dtype="bf16",
        ),
        "cuda",
        offline=False,
        variant=EDIT_2509,
    )
    assert gpu.describe()["memory_mode"] == "group_offload"
    assert gpu.describe()["group_offload_blocks"] == 2
    assert gpu.describe()["step_cache"] == {"mode": "first_block", "threshold": 0.08}
    cpu = check_options(
        Settings(attention_backend="_native_math", compile_repeated_blocks=True),
        "cpu",
        variant=EDIT_2509,
    )
    assert cpu.attention_backend == "_native_math"
    assert check_options(
        Settings(attention_backend="flash_hub"), "cuda", offline=False, variant=EDIT_2509
    )


def test_several_problems_are_reported_together() -> None:
    message = _refusal("cpu", quantization="fp8_dynamic", memory_mode="model_offload")
    assert message.startswith("2 problems")
    assert "EDITSERVE_QUANTIZATION=none" in message and "EDITSERVE_MEMORY_MODE=none" in message


def test_attention_backend_list_matches_diffusers() -> None:
    from diffusers.models.attention_dispatch import AttentionBackendName

    assert set(ATTENTION_BACKENDS) == {member.value for member in AttentionBackendName}


def test_lightning_preset_lora_sources(tmp_path: Path) -> None:
    default = lightning_lora_source(None, 8, "auto", variant=EDIT_2509)
    assert (default.kind, default.repo) == ("hub", EDIT_2509.lightning_repo)
    assert default.filename == (
        "Qwen-Image-Edit-2509/Qwen-Image-Edit-2509-Lightning-8steps-V1.0-bf16.safetensors"
    )
    assert lightning_lora_source("", 4, "fp32", variant=EDIT_2509).filename.endswith(
        "4steps-V1.0-fp32.safetensors"
    )  # type: ignore[union-attr]
    hub = lightning_lora_source(
        "me/loras@v2/sub/dir/fast.safetensors", 4, "bf16", variant=EDIT_2509
    )
    assert (hub.repo, hub.revision, hub.filename) == ("me/loras", "v2", "sub/dir/fast.safetensors")
    local_file = tmp_path / "mine.safetensors"
    local_file.write_bytes(b"x")
    local = lightning_lora_source(str(local_file), 4, "bf16", variant=EDIT_2509)
    assert (local.kind, local.path) == ("local", str(local_file))
    mirror = lightning_lora_source("me/lightning-mirror@abc123", 8, "bf16", variant=EDIT_2509)
    assert (mirror.repo, mirror.revision, mirror.filename) == (
        "me/lightning-mirror",
        "abc123",
        default.filename,
    )
    for bad, says in (
        (str(tmp_path / "missing.safetensors"), "no such file"),
        ("me/loras/weights.bin", "nor a hub file written"),
    ):
        with pytest.raises(OptionsError, match=says):
            lightning_lora_source(bad, 4, "bf16", variant=EDIT_2509)
    wrong = tmp_path / "mine.bin"
    wrong.write_bytes(b"x")
    with pytest.raises(OptionsError, match="must be a .safetensors file"):
        lightning_lora_source(str(wrong), 4, "bf16", variant=EDIT_2509)


def test_lightning_preset_offline_needs_the_lora_in_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    message = _refusal("cuda", offline=True, lightning="8")
    assert "hf download lightx2v/Qwen-Image-Lightning" in message
    assert "EDITSERVE_LIGHTNING_LORA" in message
    lora = tmp_path / "lightning.safetensors"
    lora.write_bytes(b"x")
    assert (
        check_options(
            Settings(lightning="8", lightning_lora=str(lora)),
            "cuda",
            offline=True,
            variant=EDIT_2509,
        ).lightning_steps
        == 8
    )


def test_lightning_describe_and_scheduler_shift() -> None:
    options = model_options(Settings(lightning="4"), variant=EDIT_2509)
    lightning = options.describe()["lightning"]
    assert lightning["preset"] == "4-step" and lightning["fused"] is True
    assert lightning["default_steps"] == 4 and lightning["default_true_cfg_scale"] == 1.0
    assert lightning["lora"]["repo"] == EDIT_2509.lightning_repo
    # base_shift = max_shift = ln 3: the dynamic shift is the constant 3 at every size.
    assert math.exp(LIGHTNING_SCHEDULER_OVERRIDES["base_shift"]) == pytest.approx(3.0)
    assert LIGHTNING_SCHEDULER_OVERRIDES["max_shift"] == LIGHTNING_SCHEDULER_OVERRIDES["base_shift"]
    assert LIGHTNING_SCHEDULER_OVERRIDES["shift_terminal"] is None
    assert warnings_for(
        model_options(Settings(lightning="4", step_cache="first_block"), variant=EDIT_2509), "cuda"
    )


def test_device_kinds() -> None:
    assert device_kind("cpu") == "cpu"
    assert device_kind("cuda:3") == "cuda"
    assert device_kind("auto") is None
    assert device_kind("auto", gpus_visible=0) == "cpu"
    assert device_kind("auto", gpus_visible=2) == "cuda"


# --- preset defaults through the registry and the service ------------------------------------


def test_preset_defaults_shape_the_schema_and_requests(tmp_path: Path) -> None:
    spec = default_registry().get("qwen-image-edit-plus")
    assert preset_defaults(Settings()) == {}
    plain = spec.schema_for(Settings())["properties"]
    assert (plain["num_inference_steps"]["default"], plain["true_cfg_scale"]["default"]) == (
        40,
        4.0,
    )
    for preset, steps in (("4", 4), ("8", 8)):
        settings = Settings(data_dir=tmp_path, lightning=preset)
        props = spec.schema_for(settings)["properties"]
        assert props["num_inference_steps"]["default"] == steps
        assert props["true_cfg_scale"]["default"] == 1.0
        service = GenerationService(settings, store=None, registry=default_registry())  # type: ignore[arg-type]
        body = {
            "model": "qwen-image-edit-plus",
            "prompt": "hat",
            "input_image": "https://example.com/a.png",
        }
        params: Any = service.validate(body, QueueEnvelope).params
        assert (params.num_inference_steps, params.true_cfg_scale) == (steps, 1.0)
        explicit: Any = service.validate(
            {**body, "num_inference_steps": 20, "true_cfg_scale": 3.0}, QueueEnvelope
        ).params
        assert (explicit.num_inference_steps, explicit.true_cfg_scale) == (20, 3.0)


# --- the CLI refuses before starting anything ------------------------------------------------


@pytest.mark.parametrize(
    ("command", "env", "says"),
    [
        (
            ["serve", "--device", "cpu"],
            {"EDITSERVE_QUANTIZATION": "fp8_dynamic"},
            "EDITSERVE_QUANTIZATION=none",
        ),
        (
            ["worker", "--device", "cpu"],
            {"EDITSERVE_MEMORY_MODE": "sequential_offload"},
            "EDITSERVE_MEMORY_MODE=none",
        ),
        (
            ["serve", "--device", "cuda:0"],
            {
                "EDITSERVE_COMPILE_REPEATED_BLOCKS": "1",
                "EDITSERVE_MEMORY_MODE": "sequential_offload",
            },
            "turn compile off",
        ),
        (["smoke", "--device", "cpu"], {"EDITSERVE_ATTENTION_BACKEND": "sage"}, "native"),
    ],
)
def test_cli_refuses_bad_combinations_before_starting(
    tmp_path: Path, command: list[str], env: dict[str, str], says: str
) -> None:
    result = CliRunner().invoke(
        cli, [*command, "--data-dir", str(tmp_path / "data")], env=env, catch_exceptions=False
    )
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert not (tmp_path / "data").exists()  # nothing was started or created
