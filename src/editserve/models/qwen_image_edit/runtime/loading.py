"""Loading a Qwen-Image family member: options → weights → apply options → place → warm-up.

:func:`load_pipeline` reads like a diffusers ``__call__``: numbered steps, each a call
into weights.py (where the weights come from), options.py (what the settings ask for) or
accel.py (doing it to the pipeline). torch/diffusers are imported inside the functions.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from editserve.core.settings import Settings
from editserve.domain.stages import Stage, StageCallback, ignore_stage
from editserve.models.base import EditJob, LoadedWeights, ModelLoadError
from editserve.models.qwen_image_edit.request.jobs import WARMUP_SIZE, warmup_job
from editserve.models.qwen_image_edit.request.options import (
    ModelOptions,
    OptionsError,
    check_options,
    device_kind,
    hub_offline,
    warnings_for,
)
from editserve.models.qwen_image_edit.request.sizing import calculate_dimensions
from editserve.models.qwen_image_edit.request.weights_choice import resolve_weights
from editserve.models.qwen_image_edit.runtime import accel
from editserve.models.qwen_image_edit.runtime.call import one_step_scheduler
from editserve.models.qwen_image_edit.runtime.shared import KEPT
from editserve.models.qwen_image_edit.runtime.startup import component_progress, fetch_for_load
from editserve.models.qwen_image_edit.runtime.weights import (
    ReuseFinder,
    Weights,
    WeightsChoice,
    load_weights,
    resolve_device,
    resolve_dtype,
    short_error,
)
from editserve.models.qwen_image_edit.variant import QwenVariant

logger = logging.getLogger("editserve.model")


@dataclass(frozen=True)
class LoadedPipeline:
    """A pipeline ready to run, and what every call and receipt needs to know about it."""

    pipe: Any
    options: ModelOptions
    in_force: dict[str, Any]  # the options as applied (receipts record it)
    weights_hash: dict[str, Any] | None
    versions: dict[str, str]
    one_step_scheduler: Any  # see call.one_step_scheduler; None if not needed
    loaded: LoadedWeights
    started: float  # time.perf_counter() when loading began
    variant: QwenVariant  # which member of the family this is
    components_folder: Path | None = None  # what shared.KEPT compares at the next swap


def load_pipeline(
    settings: Settings,
    device_request: str,
    on_stage: StageCallback,
    variant: QwenVariant,
) -> LoadedPipeline:
    """Resolve, load, apply the options and place the pipeline on its device, reporting
    each stage (downloading, loading, applying_options) to `on_stage`."""
    import torch

    started = time.perf_counter()
    # 1. quiet the libraries' progress bars; set the CPU thread count
    _quiet_library_progress_bars()
    if settings.torch_threads:
        torch.set_num_threads(int(settings.torch_threads))

    # 2. resolve device and dtype
    cuda_available = torch.cuda.is_available()
    cuda_count = torch.cuda.device_count() if cuda_available else 0
    device = resolve_device(device_request, cuda_available, cuda_count)
    dtype_name = resolve_dtype(settings.dtype, device)

    # 3. check the speed/memory options against the device
    options = _checked_options(settings, device, variant)

    # 4. fetch what comes from the hub (reported: bytes), then load the weights (reported:
    #    component k of n); `auto` means the real weights only where they can run: on CUDA
    choice = resolve_weights(settings, device.startswith("cuda"), variant)
    versions = library_versions()
    fetched = fetch_for_load(choice, options, on_stage)
    # the previous model's text encoder, VAE … where their files are this one's (shared.py)
    reuse = lambda folder: KEPT.take(folder, dtype_name, device, options.memory_mode)  # noqa: E731
    weights = _read_weights(choice, dtype_name, fetched, on_stage, variant, reuse)
    _warn_if_real_weights_on_cpu(weights, device, dtype_name, variant)

    # 5. apply the options and place the pipeline on the device
    pipe = weights.pipe
    in_force = apply_options(pipe, options, device, on_stage, offline=fetched)
    pipe.set_progress_bar_config(disable=True)
    one_step = one_step_scheduler(pipe.scheduler)
    load_seconds = time.perf_counter() - started

    # 6. describe what is loaded
    details = _load_details(weights, choice, device, in_force, versions, load_seconds, variant)
    loaded = LoadedWeights(
        source=weights.source,
        revision=weights.revision,
        is_tiny=weights.is_tiny,
        device=device,
        dtype=dtype_name,
        details=details,
    )
    return LoadedPipeline(
        pipe, options, in_force, weights.weights_hash, versions, one_step, loaded, started,
        variant, weights.components_folder,
    )  # fmt: skip


def _read_weights(
    choice: WeightsChoice,
    dtype_name: str,
    fetched: bool,
    report: StageCallback,
    variant: QwenVariant,
    reuse: ReuseFinder,
) -> Weights:
    what = "the tiny development weights" if choice.kind == "tiny" else choice.location
    report(Stage.LOADING, {"what": what})
    with component_progress(report):
        return load_weights(choice, dtype_name, offline=fetched, variant=variant, reuse=reuse)


def _checked_options(settings: Settings, device: str, variant: QwenVariant) -> ModelOptions:
    kind = device_kind(device)
    try:
        options = check_options(settings, kind, offline=hub_offline(), variant=variant)
    except OptionsError as exc:
        raise ModelLoadError(str(exc)) from None
    for note in warnings_for(options, kind):
        logger.warning("model options: %s", note)
    accel.check_hardware(options, device)
    return options


def _warn_if_real_weights_on_cpu(
    weights: Weights, device: str, dtype_name: str, variant: QwenVariant
) -> None:
    if device == "cpu" and not weights.is_tiny:
        logger.warning(
            "running the real %s weights on the CPU: expect minutes per step and ~%s GB of RAM",
            variant.display,
            "115" if dtype_name == "float32" else "58",
        )


def apply_options(
    pipe: Any,
    options: ModelOptions,
    device: str,
    report: StageCallback = ignore_stage,
    *,
    offline: bool = False,
) -> dict[str, Any]:
    """Apply the options in the only order that works; return what is in force.

    Each step is reported as ``applying_options`` step k of n (`offline`: the Lightning LoRA
    is in the cache already, so the hub is not asked again)."""
    in_force = options.describe()
    accel.check_not_prequantized(pipe, options)
    step = _Steps(report, option_steps(options))
    transforms = options.lightning or options.quantization != "none"
    if transforms and options.memory_mode == "none" and device != "cpu":
        # Fuse and quantise on the GPU (seconds) rather than on the CPU (minutes); with
        # an offload mode the transformer may not fit, so that happens on the CPU.
        _move(pipe.transformer, device)
    if options.lightning:
        assert options.lightning_lora is not None
        step("fusing the Lightning LoRA")
        path, lora_info = accel.resolve_lora_file(
            options.lightning_lora, offline=hub_offline() or offline
        )
        lora_info.update(accel.fuse_lightning_lora(pipe, path))
        pipe.scheduler = accel.lightning_scheduler(pipe.scheduler)
        in_force["lightning"]["lora"] = {**in_force["lightning"]["lora"], **lora_info}
    if options.quantization != "none":
        step(f"quantising the transformer ({options.quantization})")
        in_force["quantization"] = accel.quantize_transformer(
            pipe.transformer, options.quantization
        )
    step(f"placing it on {device} (memory_mode {options.memory_mode})")
    try:
        accel.place_pipeline(pipe, options, device)
    except Exception as exc:
        raise ModelLoadError(
            f"could not put the model on {device} with memory_mode "
            f"{options.memory_mode}: {short_error(exc)}"
        ) from exc
    step(f"attention backend {options.attention_backend}")
    accel.set_attention_backend(pipe, options.attention_backend)
    accel.enable_step_cache(pipe, options)
    if options.compile_repeated_blocks:
        accel.compile_blocks(pipe, options)
    return in_force


def option_steps(options: ModelOptions) -> list[str]:
    """The reported steps of apply_options, in order (for 'step k of n')."""
    steps = ["lora"] if options.lightning else []
    steps += ["quantization"] if options.quantization != "none" else []
    return [*steps, "placement", "attention"]


class _Steps:
    def __init__(self, report: StageCallback, names: list[str]) -> None:
        self.report, self.count, self.index = report, len(names), 0

    def __call__(self, text: str) -> None:
        self.index += 1
        detail = {"step": text, "index": self.index, "count": self.count}
        self.report(Stage.APPLYING_OPTIONS, detail)


def _move(module: Any, device: str) -> None:
    try:
        module.to(device)
    except Exception as exc:
        raise ModelLoadError(f"could not move the model to {device}: {short_error(exc)}") from exc


def _load_details(
    weights: Weights,
    choice: WeightsChoice,
    device: str,
    in_force: dict[str, Any],
    versions: dict[str, str],
    load_seconds: float,
    variant: QwenVariant,
) -> dict[str, Any]:
    """LoadedWeights.details: what the model card, /readyz and the logs show."""
    import torch

    pipe = weights.pipe
    details: dict[str, Any] = {
        "model": variant.model_id,
        "pipeline": type(pipe).__name__,
        "options": in_force,
        "scheduler": {
            key: value
            for key, value in accel.scheduler_receipt(pipe.scheduler).items()
            if key != "sigmas"
        },
        "versions": dict(versions),
        "load_seconds": round(load_seconds, 3),
        "parameters": {
            name: sum(p.numel() for p in getattr(pipe, name).parameters())
            for name in ("transformer", "text_encoder", "vae")
        },
        "torch_threads": torch.get_num_threads(),
    }
    if weights.weights_hash is not None:
        details["weights_hash"] = weights.weights_hash
    if weights.folder is not None:
        details["folder"] = str(weights.folder)
    if weights.reused.components:
        details["kept_from_previous_model"] = {
            "components": sorted(weights.reused.components),
            "bytes_not_read": weights.reused.bytes_skipped,
        }
    if choice.auto_fallback:
        details["auto_fallback"] = "no CUDA device: tiny random weights"
    if device.startswith("cuda"):
        details["cuda_device_name"] = torch.cuda.get_device_name(torch.device(device))
        capability = torch.cuda.get_device_capability(torch.device(device))
        details["cuda_capability"] = f"{capability[0]}.{capability[1]}"
    return details


def warm_up(
    state: LoadedPipeline,
    settings: Settings,
    generate: Callable[[EditJob], object],
    report: StageCallback = ignore_stage,
) -> None:
    """Run the pipeline once through `generate` (twice with compile: a second size makes
    the compiled blocks shape-dynamic, so later sizes do not each recompile); each run is
    reported as ``warming_up`` run k of n."""
    warm_started = time.perf_counter()
    sizes = [(WARMUP_SIZE, WARMUP_SIZE)]
    if state.options.compile_repeated_blocks:
        native = calculate_dimensions(settings.output_area, 1.0)
        if native not in sizes:
            sizes.append(native)
    try:
        for run, (width, height) in enumerate(sizes, 1):
            compiles = state.options.compile_repeated_blocks
            detail = {"run": run, "runs": len(sizes), "width": width, "height": height}
            report(Stage.WARMING_UP, {**detail, "compiles": compiles})
            generate(warmup_job(width, height, with_image=state.variant.takes_images))
    except Exception as exc:
        raise ModelLoadError(
            f"the model loaded but a warm-up run failed: {short_error(exc)}"
        ) from exc
    state.loaded.details["warmup_seconds"] = round(time.perf_counter() - warm_started, 3)


def log_ready(state: LoadedPipeline) -> None:
    loaded = state.loaded
    logger.info(
        "model ready: %s (revision %s) on %s as %s in %.1fs; options %s",
        loaded.source,
        loaded.revision or "-",
        loaded.device,
        loaded.dtype,
        time.perf_counter() - state.started,
        json.dumps(state.in_force),
    )


def library_versions() -> dict[str, str]:
    import diffusers
    import torch
    import transformers

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
    }
    for optional in ("accelerate", "peft", "torchao"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[optional] = importlib.metadata.version(optional)
    if torch.version.cuda:
        versions["cuda"] = str(torch.version.cuda)
    return versions


def _quiet_library_progress_bars() -> None:
    # Loading bars from diffusers/transformers only clutter a worker's log.
    import diffusers.utils.logging
    import transformers.utils.logging

    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
