"""The GPU benchmark: each model's real architecture at full size, random weights, no download.

    python -m bench.gpu                       # on a CUDA GPU: the matrix below, < 8 minutes
    python -m bench.gpu --cpu-scaled          # the tiny twins' sizes on the CPU (CI; automatic
                                              # without CUDA)
    python -m bench.gpu --models qwen-image-edit-plus --presets lightning-4 --inputs 1
    python -m bench.gpu --peak-tflops 989 --json out.json

Each model (qwen-image-edit-plus = 2509, qwen-image-edit-2511, qwen-image-edit) is built
with its real configuration (bench/gpu_build.py: meta-device init, random bf16 fill on
the GPU; 58 GB) and run through editserve's own code: placement by memory mode
(accel.place_pipeline) and one pipeline call with its stage clock (call.run_pipeline),
at ~1 MP output with 1, 2 and 3 input images of ~1 MP (the v1 model takes one). Speed
presets: ``default`` (40 steps, CFG 4), ``lightning-8`` and ``lightning-4`` (8 / 4 steps,
no CFG; the fused Lightning LoRA does not change the architecture, so random weights
time it exactly). Each configuration runs ``--steps`` steps (4; offload modes fewer)
after one warm-up call per shape; seconds per image are the call's measured fixed part
(text and VAE encode, decode, first-step transfers) plus the preset's steps at the
measured seconds per step. Memory modes other than ``none`` run the ``--offload-presets``
(lightning-4, what small cards use) on the first model only: the components are the
same for all three. A time budget (``--budget-s``, 400) skips what would not fit.

Printed per configuration: image and text tokens the transformer saw, seconds per step
and per image, peak GPU memory (torch.cuda.max_memory_allocated), the FLOP floor of a step
(bench/gpu_flops.py: transformer FLOPs from those token counts over the GPU's peak dense
bf16 FLOP/s from a table, ``--peak-tflops``, or a measured matmul) and the ratio to it.
Then the control-map annotators (``--annotators on``, bench/gpu_annotators.py): depth and
pose at ~1 MP with their real architectures, in denoising steps of the fastest step above.
Without diffusers on the GPU host, install it from wheels placed beside the repository:
bench/gpu_wheels.sh (README, "Benchmarks").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict

from bench.gpu_run import MEMORY_MODES, MODELS, PRESETS, Result, variant_of


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__.split("\n")[0])
    parser.add_argument("--cpu-scaled", action="store_true", help="tiny-twin sizes (CPU, CI)")
    parser.add_argument("--device", help="cuda:N or cpu (default: cuda:0 if present)")
    parser.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), help="default: bf16 on a GPU")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--memory-modes", help="default: all on a GPU, none on a CPU")
    parser.add_argument("--offload-presets", default="lightning-4")
    parser.add_argument("--inputs", default="1,2,3")
    parser.add_argument("--area", type=int, help="output and VAE pixels (1024² / 128² scaled)")
    parser.add_argument("--steps", type=int, default=4, help="steps run per configuration, at most")
    parser.add_argument("--budget-s", type=float, default=400.0, help="skip what would not fit")
    parser.add_argument("--peak-tflops", type=float, help="peak dense TFLOP/s of the device")
    parser.add_argument("--attention-backend", default="native")
    parser.add_argument("--quantization", default="none", help="none|fp8_weight_only|fp8_dynamic")
    parser.add_argument("--compile", action="store_true", help="regional torch.compile (slow!)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--annotators", choices=("on", "off"), default="on", help="the depth and pose map rows"
    )
    return parser.parse_args(argv)


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the defaults that depend on the machine."""
    import torch

    cuda = torch.cuda.is_available()
    args.device = args.device or ("cuda:0" if cuda else "cpu")
    args.cpu_scaled = args.cpu_scaled or not args.device.startswith("cuda")
    args.dtype = args.dtype or ("bf16" if args.device.startswith("cuda") else "fp32")
    args.area = args.area or (128 * 128 if args.cpu_scaled else 1024 * 1024)
    on_gpu = args.device.startswith("cuda")
    args.memory_modes = args.memory_modes or (",".join(MEMORY_MODES) if on_gpu else "none")
    for name in ("models", "presets", "memory_modes", "offload_presets"):
        setattr(args, name, [v.strip() for v in getattr(args, name).split(",") if v.strip()])
    args.inputs = [int(v) for v in args.inputs.split(",") if v.strip()]
    bad = [p for p in args.presets + args.offload_presets if p not in PRESETS]
    bad += [m for m in args.memory_modes if m not in MEMORY_MODES]
    bad += [m for m in args.models if m not in MODELS]
    if bad:
        raise SystemExit(f"unknown: {', '.join(bad)}")
    return args


def plan(args: argparse.Namespace) -> list[tuple[str, str, list[tuple[int, str]]]]:
    """(model, memory mode, [(inputs, preset)...]): one build per group, in run order."""
    groups = []
    for memory in args.memory_modes:
        models = args.models if memory == "none" else args.models[:1]
        presets = args.presets if memory == "none" else args.offload_presets
        for model in models:
            most = variant_of(model).max_images
            inputs = [n for n in args.inputs if n <= most]
            groups.append((model, memory, [(n, p) for n in inputs for p in presets]))
    return groups


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is fetched: fail fast, never wait
    args = resolve(parse(sys.argv[1:] if argv is None else argv))
    from bench import gpu_run

    started = time.perf_counter()
    context = gpu_run.Context.create(args)
    print(context.describe(), flush=True)
    results: list[Result] = []
    for model, memory, configs in plan(args):
        results += gpu_run.run_group(context, model, memory, configs, started)
        print(f"  ... {model} / {memory} done at {time.perf_counter() - started:.0f} s", flush=True)
    print(table(results))
    maps = _annotator_rows(args, results)
    print(f"(one run, {time.perf_counter() - started:.0f} s; peak: {context.peak_source})")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"device": context.describe(), "results": [asdict(r) for r in results],
                       "annotators": [asdict(m) for m in maps]},
                      out, indent=2, default=str)  # fmt: skip
    return 0 if any(r.steps_run for r in results) else 1


def _annotator_rows(args: argparse.Namespace, results: list[Result]) -> list:
    """The depth and pose maps at ~1 MP (real architectures; tiny ones with --cpu-scaled)
    against the fastest denoising step measured above (1 input, no offload)."""
    if args.annotators == "off":
        return []
    from bench import gpu_annotators

    steps = [r.step_s for r in results if r.steps_run and r.inputs == 1 and r.memory == "none"]
    side = 256 if args.cpu_scaled else 1024
    try:
        maps = gpu_annotators.run(
            args.device, args.cpu_scaled, min(steps, default=float("nan")), side
        )
    except ImportError as exc:  # a host without OpenCV or scipy: the model rows still count
        print(f"annotator rows skipped: {exc} (bench/gpu-requirements.txt)", flush=True)
        return []
    print(gpu_annotators.table(maps), flush=True)
    return maps


def _gb(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 1e9:.1f} GB"


def _s(value: float) -> str:
    return "n/a" if value != value else f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def table(results: list[Result]) -> str:
    lines = [
        "| model | preset | memory | inputs | tokens img+txt | steps run | s/step | "
        "s/image | peak GPU memory | floor s/step | x floor | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = r.times_floor
        lines.append(
            f"| {r.model} | {r.preset} | {r.memory} | {r.inputs} | "
            f"{r.image_tokens}+{r.text_tokens} | {r.steps_run} | {_s(r.step_s)} | "
            f"{_s(r.image_s)} | {_gb(r.peak_gpu_bytes)} | {_s(r.floor_step_s)} | "
            f"{'n/a' if ratio != ratio else f'{ratio:.2f}x'} | {r.note} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
