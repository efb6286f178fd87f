"""Speed and memory options of qwen-image-edit-plus, as pure logic (no torch).

Every option is a setting (``EDITSERVE_*``). This module turns the settings into one
:class:`ModelOptions`, checks that the combination can work on the device kind it will
run on, and says what to change when it cannot. It is imported by the CLI (to refuse a
bad combination before anything starts), by the registry entry (preset-dependent request
defaults) and by the adapter (which applies the options and adds the checks that need
torch: GPU compute capability, installed kernels).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from editserve.core.devices import DeviceKind, device_kind  # noqa: F401 - device_kind re-exported
from editserve.core.settings import Settings
from editserve.models.qwen_image_edit.request.attention_backends import (
    ATTENTION_BACKENDS,
    CPU_ATTENTION_BACKENDS,
    HALF_PRECISION_BACKEND_PREFIXES,
    UNSUPPORTED_BACKENDS,
)
from editserve.models.qwen_image_edit.variant import QwenVariant

MEMORY_MODES = ("none", "model_offload", "sequential_offload", "group_offload")
LIGHTNING_PRESETS = ("off", "4", "8")
STEP_CACHES = ("off", "first_block")
QUANTIZATIONS = ("none", "fp8_weight_only", "fp8_dynamic")

# The Lightning LoRA was distilled with a constant time shift of 3: the dynamic-shift
# scheduler with base_shift = max_shift = ln 3 (and no shift_terminal) gives exactly that.
LIGHTNING_SHIFT = 3.0
LIGHTNING_SCHEDULER_OVERRIDES: dict[str, Any] = {
    "base_shift": math.log(LIGHTNING_SHIFT),
    "max_shift": math.log(LIGHTNING_SHIFT),
    "shift_terminal": None,
}


class OptionsError(ValueError):
    """A combination of model options that cannot work; the message says what to change."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        if len(problems) == 1:
            text = problems[0]
        else:
            text = f"{len(problems)} problems with the model options: " + " | ".join(
                f"({n}) {p}" for n, p in enumerate(problems, 1)
            )
        super().__init__(text)


@dataclass(frozen=True)
class LoraSource:
    """Where a LoRA file comes from: a local .safetensors file or a file in a hub repo."""

    kind: Literal["local", "hub"]
    path: str | None = None  # local file
    repo: str | None = None  # hub repo id
    filename: str | None = None  # file inside the hub repo
    revision: str | None = None

    def describe(self) -> dict[str, Any]:
        if self.kind == "local":
            return {"kind": "local", "path": self.path}
        return {
            "kind": "hub",
            "repo": self.repo,
            "filename": self.filename,
            "revision": self.revision,
        }


@dataclass(frozen=True)
class ModelOptions:
    """The speed/memory options in force, resolved from the settings."""

    memory_mode: str = "none"
    group_offload_blocks: int = 1
    lightning_steps: int | None = None  # 4 or 8 when a Lightning preset is on
    lightning_lora: LoraSource | None = None
    attention_backend: str = "native"
    step_cache: str = "off"
    step_cache_threshold: float = 0.08
    compile_repeated_blocks: bool = False
    quantization: str = "none"

    @property
    def lightning(self) -> bool:
        return self.lightning_steps is not None

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary for the model card, /readyz and every receipt."""
        return {
            "memory_mode": self.memory_mode,
            **(
                {"group_offload_blocks": self.group_offload_blocks}
                if self.memory_mode == "group_offload"
                else {}
            ),
            "lightning": (
                {
                    "preset": f"{self.lightning_steps}-step",
                    "lora": self.lightning_lora.describe() if self.lightning_lora else None,
                    "fused": True,
                    "scheduler_shift": LIGHTNING_SHIFT,
                    "default_steps": self.lightning_steps,
                    "default_true_cfg_scale": 1.0,
                }
                if self.lightning
                else "off"
            ),
            "attention_backend": self.attention_backend,
            "step_cache": (
                {"mode": self.step_cache, "threshold": self.step_cache_threshold}
                if self.step_cache != "off"
                else "off"
            ),
            "compile_repeated_blocks": self.compile_repeated_blocks,
            "quantization": self.quantization,
        }


# --- from settings ----------------------------------------------------------------------------


def model_options(settings: Settings, variant: QwenVariant) -> ModelOptions:
    """Parse the option settings (values only; combinations: :func:`check_options`)."""
    problems: list[str] = []

    memory_mode = _choice(settings.memory_mode, MEMORY_MODES, "EDITSERVE_MEMORY_MODE", problems)
    lightning = _choice(settings.lightning, LIGHTNING_PRESETS, "EDITSERVE_LIGHTNING", problems)
    step_cache = _choice(settings.step_cache, STEP_CACHES, "EDITSERVE_STEP_CACHE", problems)
    quantization = _choice(settings.quantization, QUANTIZATIONS, "EDITSERVE_QUANTIZATION", problems)
    backend = (settings.attention_backend or "native").strip().lower()
    if backend not in ATTENTION_BACKENDS:
        problems.append(
            f"EDITSERVE_ATTENTION_BACKEND={settings.attention_backend!r} is not a diffusers "
            f"attention backend; use one of: {', '.join(ATTENTION_BACKENDS)}"
        )
    threshold = float(settings.step_cache_threshold)
    if not 0 < threshold < 1:
        problems.append(
            f"EDITSERVE_STEP_CACHE_THRESHOLD={threshold} must be between 0 and 1 "
            "(0.05-0.2 are usual; higher skips more and loses more quality)"
        )
    if settings.group_offload_blocks < 1:
        problems.append("EDITSERVE_GROUP_OFFLOAD_BLOCKS must be at least 1")

    steps = int(lightning) if lightning in ("4", "8") else None
    lora = None
    if steps is not None:
        try:
            lora = lightning_lora_source(settings.lightning_lora, steps, settings.dtype, variant)
        except OptionsError as exc:
            problems.extend(exc.problems)
    elif settings.lightning_lora:
        problems.append(
            "EDITSERVE_LIGHTNING_LORA is set but EDITSERVE_LIGHTNING is off: "
            "set EDITSERVE_LIGHTNING=4 or 8 (the preset the LoRA was distilled for)"
        )
    if problems:
        raise OptionsError(problems)
    return ModelOptions(
        memory_mode=memory_mode,
        group_offload_blocks=int(settings.group_offload_blocks),
        lightning_steps=steps,
        lightning_lora=lora,
        attention_backend=backend,
        step_cache=step_cache,
        step_cache_threshold=threshold,
        compile_repeated_blocks=bool(settings.compile_repeated_blocks),
        quantization=quantization,
    )


def _choice(value: str, allowed: tuple[str, ...], name: str, problems: list[str]) -> str:
    normalised = str(value).strip().lower()
    if normalised not in allowed:
        problems.append(f"{name}={value!r} is not one of: {', '.join(allowed)}")
        return allowed[0]
    return normalised


def lightning_lora_source(
    value: str | None, steps: int, dtype: str, variant: QwenVariant
) -> LoraSource:
    """The LoRA file of a Lightning preset: the default hub file or an override.

    An override is a local ``.safetensors`` file, a hub file written
    ``owner/repo/path/in/repo.safetensors`` (optionally ``owner/repo@revision/path``), or
    a hub repo ``owner/repo[@revision]`` laid out like lightx2v's (the preset's file name).
    """
    precision = "fp32" if _dtype_family(dtype) == "fp32" else "bf16"
    default_file = variant.lightning_file(steps, precision) if variant.lightning_files else ""
    if not default_file and not re.search(r"\.safetensors$", (value or "").strip()):
        raise OptionsError(
            [
                f"EDITSERVE_LIGHTNING={steps}: {variant.display} has no published Lightning "
                "LoRA: turn EDITSERVE_LIGHTNING off, or name a LoRA file in "
                "EDITSERVE_LIGHTNING_LORA"
            ]
        )
    if not value or not value.strip():
        if steps not in variant.lightning_steps:
            published = " or ".join(str(n) for n in variant.lightning_steps)
            raise OptionsError(
                [
                    f"EDITSERVE_LIGHTNING={steps}: {variant.display} has a Lightning LoRA for "
                    f"{published} steps only ({variant.lightning_repo}): set "
                    f"EDITSERVE_LIGHTNING={variant.lightning_steps[0]}, or name a {steps}-step "
                    "LoRA file in EDITSERVE_LIGHTNING_LORA"
                ]
            )
        return LoraSource("hub", repo=variant.lightning_repo, filename=default_file)
    text = value.strip()
    path = Path(text).expanduser()
    if path.exists() or text.startswith(("/", "./", "../", "~")) or os.path.isabs(text):
        if not path.is_file():
            raise OptionsError(
                [
                    f"EDITSERVE_LIGHTNING_LORA={value!r}: no such file (give a local "
                    ".safetensors file, a hub file as owner/repo/file.safetensors, or leave "
                    "it empty for the default Lightning LoRA)"
                ]
            )
        if path.suffix != ".safetensors":
            raise OptionsError([f"EDITSERVE_LIGHTNING_LORA={value!r} must be a .safetensors file"])
        return LoraSource("local", path=str(path.absolute()))
    repo_only = re.fullmatch(r"([\w.-]+)/([\w.-]+)(?:@([\w.-]+))?", text)
    if repo_only:  # a hub repo laid out like lightx2v's (a mirror or a fork)
        owner, name, revision = repo_only.groups()
        return LoraSource("hub", repo=f"{owner}/{name}", filename=default_file, revision=revision)
    match = re.fullmatch(r"([\w.-]+)/([\w.-]+)(?:@([\w./-]+?))?/(.+\.safetensors)", text)
    if not match:
        raise OptionsError(
            [
                f"EDITSERVE_LIGHTNING_LORA={value!r} is neither an existing local file, a hub "
                "repo (owner/repo[@revision]) nor a hub file written "
                "owner/repo[@revision]/path/to/file.safetensors"
            ]
        )
    owner, name, revision, filename = match.groups()
    return LoraSource("hub", repo=f"{owner}/{name}", filename=filename, revision=revision)


# --- combinations ------------------------------------------------------------------------------


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def check_options(
    settings: Settings,
    device: DeviceKind | None,
    *,
    offline: bool | None = None,
    variant: QwenVariant,
) -> ModelOptions:
    """Parse the options and refuse combinations that cannot work on `device`.

    ``device`` is the kind of device the model will run on, or None when unknown (then
    only the device-independent rules apply). Raises :class:`OptionsError` naming every
    problem and what to change.
    """
    options = model_options(settings, variant)
    offline = hub_offline() if offline is None else offline
    problems = _problems_anywhere(options, _dtype_family(settings.dtype), offline)
    if device == "cpu":
        problems += _problems_on_cpu(options)
    if problems:
        raise OptionsError(problems)
    return options


def _problems_anywhere(options: ModelOptions, dtype: str, offline: bool) -> list[str]:
    """Combinations that cannot work on any device."""
    problems: list[str] = []
    backend = options.attention_backend
    if options.compile_repeated_blocks and options.memory_mode == "sequential_offload":
        problems.append(
            "EDITSERVE_COMPILE_REPEATED_BLOCKS cannot be combined with "
            "EDITSERVE_MEMORY_MODE=sequential_offload (its per-layer weight moves break "
            "compiled graphs): use memory_mode=group_offload or model_offload, or turn "
            "compile off"
        )
    if options.quantization != "none" and options.memory_mode == "sequential_offload":
        problems.append(
            f"EDITSERVE_QUANTIZATION={options.quantization} cannot be combined with "
            "EDITSERVE_MEMORY_MODE=sequential_offload: use memory_mode=model_offload or "
            "group_offload with FP8 weights"
        )
    if backend.endswith("_hub") and offline:
        problems.append(
            f"EDITSERVE_ATTENTION_BACKEND={backend} downloads its kernel from the Hugging "
            "Face Hub at start-up, but HF_HUB_OFFLINE is set: use an installed backend "
            "(flash, _flash_3, sage, _native_cudnn, native) or unset HF_HUB_OFFLINE"
        )
    if backend in UNSUPPORTED_BACKENDS:
        problems.append(
            f"EDITSERVE_ATTENTION_BACKEND={backend} is for NPU/XLA devices, which editserve "
            "does not drive: use native (or a CUDA backend on a GPU)"
        )
    if backend.startswith(HALF_PRECISION_BACKEND_PREFIXES) and dtype == "fp32":
        problems.append(
            f"EDITSERVE_ATTENTION_BACKEND={backend} only runs in bf16/fp16, but "
            "EDITSERVE_DTYPE is fp32: set EDITSERVE_DTYPE=bf16 (or use attention_backend "
            "native)"
        )
    lora = options.lightning_lora
    if lora is not None and lora.kind == "hub" and offline and not _lora_in_hub_cache(lora):
        problems.append(
            f"EDITSERVE_LIGHTNING={options.lightning_steps} needs {lora.repo}/{lora.filename}, "
            "which is not in the local Hugging Face cache, and HF_HUB_OFFLINE is set: "
            f"download it where the hub is reachable (hf download {lora.repo} "
            f"{lora.filename}) or set EDITSERVE_LIGHTNING_LORA to a local .safetensors file"
        )
    return problems


def _problems_on_cpu(options: ModelOptions) -> list[str]:
    """Combinations that cannot work on a CPU."""
    problems: list[str] = []
    backend = options.attention_backend
    if options.quantization != "none":
        problems.append(
            f"EDITSERVE_QUANTIZATION={options.quantization} needs a CUDA GPU (FP8 "
            "matmuls need compute capability 8.9+, e.g. L40S, RTX 4090, H100): set "
            "EDITSERVE_QUANTIZATION=none on the CPU"
        )
    if options.memory_mode != "none":
        problems.append(
            f"EDITSERVE_MEMORY_MODE={options.memory_mode} moves weights between CPU "
            "memory and a GPU; on the CPU there is nothing to offload to: set "
            "EDITSERVE_MEMORY_MODE=none"
        )
    if backend not in CPU_ATTENTION_BACKENDS and backend not in UNSUPPORTED_BACKENDS:
        problems.append(
            f"EDITSERVE_ATTENTION_BACKEND={backend} needs a CUDA GPU; on the CPU use one "
            f"of: {', '.join(CPU_ATTENTION_BACKENDS)}"
        )
    return problems


def warnings_for(options: ModelOptions, device: DeviceKind | None) -> list[str]:
    """Combinations that work but are probably not what the operator wants."""
    notes = []
    if options.lightning and options.step_cache != "off":
        notes.append(
            "step caching with a 4/8-step Lightning preset rarely skips a step (each step "
            "changes the image a lot) and may cost quality; consider EDITSERVE_STEP_CACHE=off"
        )
    if device == "cpu" and options.compile_repeated_blocks:
        notes.append("torch.compile on the CPU compiles C++ kernels at start-up (minutes)")
    return notes


def preset_defaults(settings: Settings) -> dict[str, Any]:
    """Request defaults that follow the Lightning preset (steps and CFG scale)."""
    value = str(settings.lightning).strip().lower()
    if value in ("4", "8"):
        return {"num_inference_steps": int(value), "true_cfg_scale": 1.0}
    return {}


def _dtype_family(dtype: str) -> str:
    value = (dtype or "auto").strip().lower()
    if value in ("fp32", "float32", "float"):
        return "fp32"
    if value in ("fp16", "float16", "half"):
        return "fp16"
    if value in ("bf16", "bfloat16"):
        return "bf16"
    return "auto"


def _lora_in_hub_cache(source: LoraSource) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub comes with diffusers
        return False
    assert source.repo is not None and source.filename is not None
    found = try_to_load_from_cache(source.repo, source.filename, revision=source.revision)
    return isinstance(found, str)
