"""Applying the speed and memory options to a loaded QwenImageEditPlusPipeline.

Each function does one thing through diffusers' / torchao's own API (see MODEL_NOTES):
the Lightning LoRA (load, fuse, unload) and its scheduler, FP8 weights, placement by
memory mode, the attention backend, the step cache and regional compile. The adapter calls
them in this order, which matters: the LoRA is fused into full-precision weights *before*
quantisation, weights are quantised before offload hooks are attached, and compile comes
last so it traces the cache hooks.

torch, diffusers and torchao are imported inside the functions (workers only).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from editserve.models.base import ModelLoadError
from editserve.models.qwen_image_edit.request.options import (
    LIGHTNING_SCHEDULER_OVERRIDES,
    LoraSource,
    ModelOptions,
)
from editserve.models.qwen_image_edit.runtime.fingerprint import file_sha256

logger = logging.getLogger("editserve.model")

LIGHTNING_ADAPTER = "lightning"
TORCHAO_MIN_VERSION = (0, 15)
# Scheduler config keys that decide the noise schedule, for receipts.
SCHEDULER_ESSENTIALS = (
    "num_train_timesteps",
    "shift",
    "use_dynamic_shifting",
    "base_shift",
    "max_shift",
    "base_image_seq_len",
    "max_image_seq_len",
    "shift_terminal",
    "time_shift_type",
    "invert_sigmas",
    "use_karras_sigmas",
    "use_exponential_sigmas",
    "use_beta_sigmas",
    "stochastic_sampling",
)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__


# --- checks that need torch ----------------------------------------------------------------------


def check_hardware(options: ModelOptions, device: str) -> None:
    """Refuse options this machine cannot run (GPU generation, missing packages)."""
    import torch

    if options.quantization != "none":
        try:
            import torchao
        except ImportError:
            raise ModelLoadError(
                f"EDITSERVE_QUANTIZATION={options.quantization} needs torchao: "
                "pip install 'torchao>=0.15' (or set EDITSERVE_QUANTIZATION=none)"
            ) from None
        version = tuple(int(p) for p in torchao.__version__.split("+")[0].split(".")[:2])
        if version < TORCHAO_MIN_VERSION:
            raise ModelLoadError(
                f"torchao {torchao.__version__} is too old for diffusers 0.42's TorchAO "
                "configs: pip install -U 'torchao>=0.15'"
            )
        if options.quantization == "fp8_dynamic" and device.startswith("cuda"):
            capability = torch.cuda.get_device_capability(torch.device(device))
            if capability < (8, 9):
                name = torch.cuda.get_device_name(torch.device(device))
                raise ModelLoadError(
                    f"EDITSERVE_QUANTIZATION=fp8_dynamic needs FP8 tensor cores (compute "
                    f"capability 8.9+: L4, L40S, RTX 4090, H100, B200); {name} has "
                    f"{capability[0]}.{capability[1]}. Use fp8_weight_only (saves memory, "
                    "not time) or none"
                )
    backend = options.attention_backend
    if backend != "native":
        from diffusers.models.attention_dispatch import (
            AttentionBackendName,
            _check_attention_backend_requirements,
        )

        try:
            _check_attention_backend_requirements(AttentionBackendName(backend))
        except Exception as exc:
            raise ModelLoadError(
                f"EDITSERVE_ATTENTION_BACKEND={backend} cannot be used here: {_short(exc)} "
                "(or use attention_backend native)"
            ) from None


def check_not_prequantized(pipe: Any, options: ModelOptions) -> None:
    """A LoRA must be fused into full-precision weights; FP8 must not be applied twice."""
    transformer = pipe.transformer
    quantizer = getattr(transformer, "hf_quantizer", None)
    config = getattr(transformer, "config", {})
    quantized = quantizer is not None or bool(
        config.get("quantization_config") if hasattr(config, "get") else None
    )
    if not quantized:
        return
    if options.lightning:
        raise ModelLoadError(
            "the transformer of these weights is already quantised, so the Lightning LoRA "
            "cannot be fused into it (fusing into quantised weights breaks the image): load "
            "the bf16 weights and set EDITSERVE_QUANTIZATION=fp8_weight_only or fp8_dynamic "
            "(editserve fuses first, then quantises)"
        )
    if options.quantization != "none":
        raise ModelLoadError(
            "the transformer of these weights is already quantised: set "
            "EDITSERVE_QUANTIZATION=none, or load the bf16 weights"
        )


# --- Lightning ------------------------------------------------------------------------------------


def lightning_scheduler(scheduler: Any) -> Any:
    """The constant-shift-3 flow-matching scheduler the Lightning LoRA was distilled with."""
    return type(scheduler).from_config(scheduler.config, **LIGHTNING_SCHEDULER_OVERRIDES)


def resolve_lora_file(source: LoraSource, *, offline: bool) -> tuple[Path, dict[str, Any]]:
    """The local path of the LoRA file (downloading it from the hub if needed)."""
    if source.kind == "local":
        assert source.path is not None
        path = Path(source.path)
        if not path.is_file():
            raise ModelLoadError(f"Lightning LoRA file {path} does not exist")
        return path, {"source": str(path)}
    from huggingface_hub import hf_hub_download

    assert source.repo is not None and source.filename is not None
    where = f"{source.repo}/{source.filename}" + (f"@{source.revision}" if source.revision else "")
    try:
        path = Path(
            hf_hub_download(
                source.repo,
                source.filename,
                revision=source.revision,
                local_files_only=offline,
            )
        )
    except Exception as exc:
        hint = (
            "HF_HUB_OFFLINE is set and it is not in the local Hugging Face cache"
            if offline
            else "the Hugging Face Hub did not give it"
        )
        raise ModelLoadError(
            f"cannot get the Lightning LoRA {where}: {hint} ({_short(exc)}). Download it "
            f"where the hub is reachable (hf download {source.repo} {source.filename}) or "
            "set EDITSERVE_LIGHTNING_LORA to a local .safetensors file"
        ) from None
    info: dict[str, Any] = {"source": where}
    # Cached files live in .../snapshots/<commit>/<filename>
    parts = path.parts
    if "snapshots" in parts:
        info["commit"] = parts[parts.index("snapshots") + 1]
    return path, info


def fuse_lightning_lora(pipe: Any, path: Path) -> dict[str, Any]:
    """Load the LoRA into the transformer, fuse it into the weights, drop the adapter."""
    from safetensors.torch import load_file

    started = time.perf_counter()
    try:
        state_dict = load_file(str(path))
    except Exception as exc:
        raise ModelLoadError(f"cannot read the LoRA file {path}: {_short(exc)}") from None
    in_file = sum(1 for key in state_dict if key.endswith((".lora_A.weight", ".lora_down.weight")))
    try:
        pipe.load_lora_weights(state_dict, adapter_name=LIGHTNING_ADAPTER)
    except Exception as exc:
        raise ModelLoadError(
            f"the LoRA {path.name} does not fit this transformer: {_short(exc)}"
        ) from None
    patched = sum(
        1
        for module in pipe.transformer.modules()
        if LIGHTNING_ADAPTER in getattr(module, "lora_A", {})
    )
    if patched == 0:
        raise ModelLoadError(f"the LoRA {path.name} matched no layer of the transformer")
    if patched < in_file:
        logger.warning(
            "the LoRA %s has %d layers but only %d matched the transformer",
            path.name,
            in_file,
            patched,
        )
    pipe.fuse_lora(components=["transformer"], lora_scale=1.0, adapter_names=[LIGHTNING_ADAPTER])
    pipe.unload_lora_weights()
    return {
        "sha256": file_sha256(path),
        "layers_in_file": in_file,
        "layers_fused": patched,
        "fuse_seconds": round(time.perf_counter() - started, 3),
    }


# --- FP8 ----------------------------------------------------------------------------------------


def torchao_config(quantization: str) -> Any:
    """The torchao config object of a quantisation setting."""
    from torchao.quantization import (
        Float8DynamicActivationFloat8WeightConfig,
        Float8WeightOnlyConfig,
        PerRow,
    )

    if quantization == "fp8_weight_only":
        return Float8WeightOnlyConfig()
    if quantization == "fp8_dynamic":
        return Float8DynamicActivationFloat8WeightConfig(granularity=PerRow())
    raise ValueError(f"unknown quantization {quantization!r}")


def _in_transformer_block(module: Any, fqn: str) -> bool:
    import torch

    # Only the 60 repeated blocks (>99% of the weights); the input/output projections and
    # the timestep embedding stay in bf16, which costs nothing and keeps them exact.
    return isinstance(module, torch.nn.Linear) and fqn.startswith("transformer_blocks.")


def quantize_transformer(transformer: Any, quantization: str) -> dict[str, Any]:
    """Quantise the linear layers of the transformer blocks in place with torchao."""
    from torchao.quantization import quantize_

    started = time.perf_counter()
    quantize_(transformer, torchao_config(quantization), filter_fn=_in_transformer_block)
    layers = sum(
        1
        for name, module in transformer.named_modules()
        if name.startswith("transformer_blocks.")
        and "torchao" in type(getattr(module, "weight", None)).__module__
    )
    return {
        "scheme": quantization,
        "layers": layers,
        "quantize_seconds": round(time.perf_counter() - started, 3),
    }


# --- placement, attention, cache, compile ------------------------------------------------------


def place_pipeline(pipe: Any, options: ModelOptions, device: str) -> None:
    """Put the pipeline on `device` the way the memory mode says."""
    import torch

    mode = options.memory_mode
    if mode == "none":
        pipe.to(device)
    elif mode == "model_offload":
        pipe.enable_model_cpu_offload(device=device)
    elif mode == "sequential_offload":
        pipe.enable_sequential_cpu_offload(device=device)
    elif mode == "group_offload":
        # The VAE is small and convolutional: it stays on the device.
        pipe.enable_group_offload(
            onload_device=torch.device(device),
            offload_device=torch.device("cpu"),
            offload_type="block_level",
            num_blocks_per_group=options.group_offload_blocks,
            use_stream=device.startswith("cuda"),
            exclude_modules=["vae"],
        )
    else:  # pragma: no cover - options.py validates the mode
        raise ValueError(f"unknown memory mode {mode!r}")


def set_attention_backend(pipe: Any, backend: str) -> None:
    try:
        pipe.transformer.set_attention_backend(backend)
    except Exception as exc:
        raise ModelLoadError(
            f"attention backend {backend!r} could not be set: {_short(exc)}"
        ) from None


def enable_step_cache(pipe: Any, options: ModelOptions) -> None:
    if options.step_cache == "first_block":
        from diffusers import FirstBlockCacheConfig

        pipe.transformer.enable_cache(FirstBlockCacheConfig(threshold=options.step_cache_threshold))


def compile_blocks(pipe: Any, options: ModelOptions) -> None:
    """Regional torch.compile of the repeated transformer blocks.

    The first-block cache decides per step whether to run the remaining blocks (a Python
    branch on a tensor value): that is a graph break, so fullgraph only without it.
    """
    pipe.transformer.compile_repeated_blocks(fullgraph=options.step_cache == "off")


def reset_step_cache(pipe: Any) -> None:
    """Forget cached residuals: a call must not depend on the previous (cancelled) one."""
    reset = getattr(pipe.transformer, "_reset_stateful_cache", None)
    if reset is not None and getattr(pipe.transformer, "is_cache_enabled", False):
        reset()


def scheduler_receipt(scheduler: Any) -> dict[str, Any]:
    """The scheduler's class, the config keys that shape its schedule, and the sigmas used."""
    config = scheduler.config
    info: dict[str, Any] = {"class": type(scheduler).__name__}
    for key in SCHEDULER_ESSENTIALS:
        if key in config:
            value = config[key]
            info[key] = round(value, 6) if isinstance(value, float) else value
    sigmas = getattr(scheduler, "sigmas", None)
    if sigmas is not None:
        info["sigmas"] = [round(float(s), 5) for s in sigmas]
    return info
