"""Running bench/gpu.py's configurations: one build per (model, memory mode), then each
(inputs, preset) through editserve's pipeline call, timed step by step."""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import dataclass, field
from typing import Any

from bench import gpu_build, gpu_flops

PRESETS: dict[str, tuple[int, float]] = {
    "default": (40, 4.0),
    "lightning-8": (8, 1.0),
    "lightning-4": (4, 1.0),
}
MEMORY_MODES = ("none", "model_offload", "group_offload", "sequential_offload")
# Steps run per configuration, at most (offload modes stream weights every forward).
MAX_STEPS = {"none": 4, "model_offload": 4, "group_offload": 2, "sequential_offload": 1}
MODELS = ("qwen-image-edit-plus", "qwen-image-edit-2511", "qwen-image-edit")


@dataclass
class Result:
    model: str
    preset: str
    memory: str
    inputs: int
    image_tokens: int = 0
    text_tokens: int = 0
    steps_run: int = 0
    forwards_per_step: float = 0.0
    step_s: float = float("nan")
    image_s: float = float("nan")
    peak_gpu_bytes: int | None = None
    floor_step_s: float = float("nan")
    stages: dict[str, float] = field(default_factory=dict)
    note: str = ""

    @property
    def times_floor(self) -> float:
        return self.step_s / self.floor_step_s if self.floor_step_s > 0 else float("nan")


def variant_of(model: str) -> Any:
    """The model's QwenVariant (the family's member records: light imports, no registry)."""
    from editserve.models.qwen_image_edit.members import member

    variant = member(model)
    assert variant is not None, model
    return variant


DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
PROMPT = "Put the person from Picture 1 next to the product in Picture 2, keep the faces unchanged"


@dataclass
class Context:
    args: argparse.Namespace
    device: str
    dtype: Any
    configs: gpu_build.Configs
    peak: float  # FLOP/s
    peak_source: str

    @classmethod
    def create(cls, args: argparse.Namespace) -> Context:
        import torch

        dtype = getattr(torch, DTYPES[args.dtype])
        name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else ""
        if args.peak_tflops:
            peak, source = args.peak_tflops * 1e12, f"--peak-tflops {args.peak_tflops:g}"
        elif (found := gpu_flops.table_peak(name)) is not None:
            peak, source = found, f"data sheet of {name}: {found / 1e12:g} TFLOP/s dense"
        else:
            peak = gpu_flops.measured_peak(args.device, dtype, 4096 if name else 1024)
            source = f"measured matmul on {name or 'the CPU'}: {peak / 1e12:.3g} TFLOP/s"
        configs = gpu_build.SCALED if args.cpu_scaled else gpu_build.FULL
        return cls(args, args.device, dtype, configs, peak, source)

    def describe(self) -> str:
        import diffusers
        import torch
        import transformers

        what = "scaled-down (tiny-twin) configs" if self.args.cpu_scaled else "full-size configs"
        name = torch.cuda.get_device_name(self.device) if self.device.startswith("cuda") else (
            platform.processor() or platform.machine())  # fmt: skip
        return (
            f"device: {self.device} ({name}); {what}, random {self.args.dtype} weights; "
            f"~{self.args.area / 1e6:.2f} MP; torch {torch.__version__}, diffusers "
            f"{diffusers.__version__}, transformers {transformers.__version__}; "
            f"attention {self.args.attention_backend}, quantization {self.args.quantization}"
            f"{', compiled' if self.args.compile else ''}"
        )


def _over_budget(context: Context, started: float, expected: float = 0.0) -> bool:
    """True when ``expected`` more seconds would end past the budget."""
    return time.perf_counter() - started + expected > context.args.budget_s


def _failed(exc: BaseException) -> str:
    first = str(exc).splitlines()[0][:160] if str(exc) else ""
    return f"failed: {type(exc).__name__}: {first}"


def run_group(
    context: Context, model: str, memory: str, configs: list[tuple[int, str]], started: float
) -> list[Result]:
    """Build ``model`` once, place it by ``memory``, run every (inputs, preset)."""
    if _over_budget(context, started):
        return [Result(model, p, memory, n, note="skipped: time budget") for n, p in configs]
    variant = variant_of(model)
    pipe = None
    try:
        pipe = _build(context, variant, memory)
    except Exception as exc:  # one mode that cannot run must not lose the others' rows
        return [Result(model, p, memory, n, note=_failed(exc)) for n, p in configs]
    try:
        warmed: set[int] = set()
        results, last = [], 0.0
        for inputs, preset in configs:
            if _over_budget(context, started, last):
                results.append(Result(model, preset, memory, inputs, note="skipped: time budget"))
                continue
            began = time.perf_counter()
            try:
                if inputs not in warmed and memory == "none":  # offload modes: warm already
                    run_one(context, pipe, variant, memory, inputs, preset, steps=1)
                    warmed.add(inputs)
                results.append(run_one(context, pipe, variant, memory, inputs, preset))
            except Exception as exc:
                results.append(Result(model, preset, memory, inputs, note=_failed(exc)))
            last = time.perf_counter() - began
        return results
    finally:
        del pipe
        gpu_build.release(context.device)


def _build(context: Context, variant: Any, memory: str) -> Any:
    from editserve.models.qwen_image_edit.request.options import ModelOptions
    from editserve.models.qwen_image_edit.runtime import accel

    pipe = gpu_build.pipeline(variant, context.configs, context.device, context.dtype)
    if context.args.quantization != "none":
        accel.quantize_transformer(pipe.transformer, context.args.quantization)
    options = ModelOptions(
        memory_mode=memory,
        attention_backend=context.args.attention_backend,
        compile_repeated_blocks=context.args.compile,
    )
    accel.place_pipeline(pipe, options, context.device)
    accel.set_attention_backend(pipe, options.attention_backend)
    if options.compile_repeated_blocks:
        accel.compile_blocks(pipe, options)
    return pipe


def _job(context: Context, inputs: int, preset: str, steps: int) -> Any:
    import numpy as np
    from PIL import Image

    from editserve.models.base import EditJob
    from editserve.models.qwen_image_edit.runtime.call import pipeline_dimensions

    _, cfg = PRESETS[preset]
    width, height = pipeline_dimensions(context.args.area, 1.0)
    side = int(context.args.area**0.5)
    rng = np.random.default_rng(inputs)
    images = [  # ~area at 4:3, like a photo
        Image.fromarray(rng.integers(0, 255, (side * 3 // 4, side, 3), dtype=np.uint8))
        for _ in range(inputs)
    ]
    return EditJob(prompt=PROMPT, images=images, width=width, height=height, seed=0,
                   num_inference_steps=steps, true_cfg_scale=cfg,
                   vae_area=context.args.area)  # fmt: skip


def run_one(
    context: Context,
    pipe: Any,
    variant: Any,
    memory: str,
    inputs: int,
    preset: str,
    steps: int | None = None,
) -> Result:
    """One pipeline call; seconds per step from the step marks, the rest as fixed cost."""
    import torch

    from editserve.models.qwen_image_edit.runtime.call import one_step_scheduler, run_pipeline

    preset_steps, _ = PRESETS[preset]
    n = steps or min(preset_steps, context.args.steps, MAX_STEPS[memory])
    job = _job(context, inputs, preset, n)
    marks: list[float] = []
    probe = gpu_flops.ShapeProbe()
    handle = probe.attach(pipe.transformer)
    cuda = context.device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats(context.device)
    try:
        call = run_pipeline(pipe, [job], lambda k, total: marks.append(time.perf_counter()),
                            device=context.device,
                            one_step_scheduler=one_step_scheduler(pipe.scheduler),
                            variant=variant)  # fmt: skip
    finally:
        handle.remove()
    timings = call.timings
    step_s = (marks[-1] - marks[0]) / (n - 1) if n > 1 else timings["denoise"] / n
    fixed = timings["inference"] - n * step_s
    image_tokens, text_tokens = probe.shapes[0] if probe.shapes else (0, 0)
    return Result(
        model=variant.model_id, preset=preset, memory=memory, inputs=inputs,
        image_tokens=image_tokens, text_tokens=text_tokens, steps_run=n,
        forwards_per_step=len(probe.shapes) / n, step_s=step_s,
        image_s=fixed + preset_steps * step_s,
        peak_gpu_bytes=torch.cuda.max_memory_allocated(context.device) if cuda else None,
        floor_step_s=probe.flops(pipe.transformer.config) / n / context.peak,
        stages={k: round(v, 4) for k, v in timings.items()},
        note="" if n == preset_steps else f"{preset_steps} steps from {n} run",
    )  # fmt: skip
