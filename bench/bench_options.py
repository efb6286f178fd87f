"""Speed options of the qwen-image-edit-plus adapter, measured against each other in one run.

    .venv/bin/python bench/bench_options.py [--size 256] [--repeat 5] [--compile]
                                            [--cache-threshold 0.5]

Runs the real adapter on the tiny random-weight model (CPU unless a GPU is present) and
prints a table of ratios, each measured in this one run on this one machine:

- batch of 4 (one pipeline call, 4 generators) vs 4 single calls
- first-block cache (threshold 0.5) vs no cache, 20 steps
- 8 steps without CFG (a Lightning-style call) vs 40 steps with CFG
- 8 steps vs 40 steps, both with CFG
- attention backend _native_math vs native
- regional torch.compile vs eager (with --compile; the first compile takes minutes on a CPU)

The tiny model's transformer is ~92k parameters, so the VAE, the text encoder and Python
overhead weigh far more than on the real 20B model: read the ratios as "does the option do
what it should" (fewer block evaluations, one call for a batch), not as GPU speed-ups.
The README's GPU guide (section 4) lists the public GPU figures. Times are the best of
--repeat runs, the two sides of each row interleaved.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from editserve.core.settings import Settings
from editserve.models.base import EditJob
from editserve.models.qwen_image_edit.members import EDIT_2509
from editserve.models.qwen_image_edit.runtime.adapter import QwenImageEditPlusAdapter
from editserve.models.qwen_image_edit.tiny.build import ensure_tiny_weights

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / ".cache" / "tiny-qwen-image-edit-plus"


def ignore(step: int, total: int) -> None:
    return None


def make_job(size: int, seed: int = 0, steps: int = 20, cfg: float = 4.0) -> EditJob:
    image = Image.new("RGB", (size, size), (200, 40, 40))
    for x in range(size):
        image.putpixel((x, size // 2), (20, 200, 20))
    return EditJob(
        prompt="make the red square blue",
        images=[image],
        width=size,
        height=size,
        seed=seed,
        num_inference_steps=steps,
        true_cfg_scale=cfg,
        vae_area=size * size,
    )


def paired_seconds(
    baseline: Callable[[], Any], variant: Callable[[], Any], repeat: int
) -> tuple[float, float]:
    """Best-of-`repeat` times of two runs, interleaved (A B A B ...) so that drift and
    other load on the machine hit both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for index, run in enumerate((baseline, variant)):
            started = time.perf_counter()
            run()
            times[index].append(time.perf_counter() - started)
    return min(times[0]), min(times[1])


def load(weights: Path, data_dir: Path, size: int, **options: Any) -> QwenImageEditPlusAdapter:
    settings = Settings(data_dir=data_dir, model_weights=str(weights), **options)
    adapter = QwenImageEditPlusAdapter(settings, warmup=True)
    adapter.load()
    adapter.generate(make_job(size, steps=2), ignore)  # first call at this size: not timed
    return adapter


class BlockCount:
    def __init__(self, adapter: QwenImageEditPlusAdapter) -> None:
        self.count = 0
        self.attn = adapter.pipeline.transformer.transformer_blocks[-1].attn

    def __enter__(self) -> BlockCount:
        self.handle = self.attn.register_forward_pre_hook(lambda *_: self._tick())
        return self

    def _tick(self) -> None:
        self.count += 1

    def __exit__(self, *exc: object) -> None:
        self.handle.remove()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="output side (and VAE side)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="also time regional compile")
    parser.add_argument(
        "--cache-threshold",
        type=float,
        default=0.5,
        help="first-block cache threshold (the random tiny model changes a lot per step)",
    )
    args = parser.parse_args(argv)
    weights = ensure_tiny_weights(TINY, variant=EDIT_2509)
    rows: list[tuple[str, float, str, float, str]] = []
    size, repeat = args.size, args.repeat

    with tempfile.TemporaryDirectory() as tmp:
        base = load(weights, Path(tmp) / "base", size)
        device = base.loaded.device if base.loaded else "?"

        # Batch of 4 vs 4 singles.
        jobs = [make_job(size, seed=seed, steps=8) for seed in range(4)]
        singles, batched = paired_seconds(
            lambda: [base.generate(job, ignore) for job in jobs],
            lambda: base.generate_batch(jobs, ignore),
            repeat,
        )
        rows.append(("4 single calls", singles, "batch of 4", batched, "one pipeline call"))

        # Steps and CFG.
        forty = make_job(size, steps=40)
        eight, eight_no_cfg = make_job(size, steps=8), make_job(size, steps=8, cfg=1.0)
        a, b = paired_seconds(
            lambda: base.generate(forty, ignore), lambda: base.generate(eight, ignore), repeat
        )
        rows.append(("40 steps, CFG", a, "8 steps, CFG", b, ""))
        a, b = paired_seconds(
            lambda: base.generate(forty, ignore),
            lambda: base.generate(eight_no_cfg, ignore),
            repeat,
        )
        rows.append(("40 steps, CFG", a, "8 steps, no CFG", b, "Lightning-like call"))

        # First-block cache.
        job20 = make_job(size, steps=20)
        cached_adapter = load(
            weights,
            Path(tmp) / "cache",
            size,
            step_cache="first_block",
            step_cache_threshold=args.cache_threshold,
        )
        with BlockCount(base) as plain_blocks, BlockCount(cached_adapter) as cached_blocks:
            a, b = paired_seconds(
                lambda: base.generate(job20, ignore),
                lambda: cached_adapter.generate(job20, ignore),
                repeat,
            )
        note = f"last block ran {cached_blocks.count}/{plain_blocks.count} times"
        rows.append(("no cache, 20 steps", a, f"first-block {args.cache_threshold}", b, note))

        # Attention backend.
        math_adapter = load(weights, Path(tmp) / "math", size, attention_backend="_native_math")
        a, b = paired_seconds(
            lambda: base.generate(eight, ignore),
            lambda: math_adapter.generate(eight, ignore),
            repeat,
        )
        rows.append(("native SDPA, 8 steps", a, "_native_math", b, ""))

        if args.compile:
            print("compiling (minutes on a CPU the first time)...", file=sys.stderr)
            compiled = load(weights, Path(tmp) / "compile", size, compile_repeated_blocks=True)
            a, b = paired_seconds(
                lambda: base.generate(eight, ignore),
                lambda: compiled.generate(eight, ignore),
                repeat,
            )
            rows.append(("eager, 8 steps", a, "compile_repeated_blocks", b, ""))

    print(f"\ntiny model on {device}, {size}x{size} output, best of {repeat} interleaved runs\n")
    print("| baseline | time | variant | time | speed-up | note |")
    print("|---|---|---|---|---|---|")
    for baseline, base_seconds, variant, seconds, note in rows:
        print(
            f"| {baseline} | {base_seconds:.2f}s | {variant} | {seconds:.2f}s | "
            f"{base_seconds / seconds:.2f}x | {note} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
