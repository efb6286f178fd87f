"""One call of a loaded Qwen-Image pipeline (an edit one, or ``QwenImagePipeline`` for a
text-to-image member: no input pictures): the jobs of one batch in, the images and the time
each phase took out.

Around the call: checks of the jobs, forward hooks that time the text encoder, the VAE
encode and the denoising loop, one generator per image, a scheduler without
``shift_terminal`` for a single step, the VAE's input area, and checks of the output.
torch is imported inside the functions.
"""

from __future__ import annotations

import importlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from editserve.models.base import EditJob, StepCallback
from editserve.models.qwen_image_edit.runtime import accel
from editserve.models.qwen_image_edit.runtime.job_checks import SIZE_MULTIPLE as SIZE_MULTIPLE
from editserve.models.qwen_image_edit.runtime.job_checks import validate_job, validated_images
from editserve.models.qwen_image_edit.runtime.mask_blend import MaskedCall
from editserve.models.qwen_image_edit.variant import QwenVariant

logger = logging.getLogger("editserve.model")

ONE_STEP_NOTE = "shift_terminal disabled for a single step (sigmas 1.0 -> 0.0)"


@dataclass(frozen=True)
class PipelineCall:
    """What one pipeline call made, and what the receipts record about it."""

    inputs: list[Any]  # the input images as passed (RGB; RGBA for a layered member)
    outputs: list[Any]  # one PIL image per job (a layered member: its first layer)
    timings: dict[str, float]
    scheduler: dict[str, Any]
    layers: list[list[Any]] = field(default_factory=list)  # a layered member: per job, all


def run_pipeline(
    pipe: Any,
    jobs: list[EditJob],
    on_step: StepCallback,
    *,
    device: str,
    one_step_scheduler: Any,
    variant: QwenVariant,
) -> PipelineCall:
    """Run `jobs` (one job, or a batch differing only in seed) as one pipeline call."""
    import torch

    # 1. check the job and its input images (none for a text-to-image member)
    job = jobs[0]
    images = validated_images(job, variant)
    steps = int(job.num_inference_steps)
    validate_job(job)

    # 2. a clock of the phases, read by forward hooks and the step callback
    clock = _CallClock(_synchronizer(device), on_step, steps)

    # 3. one generator per image: prepare_latents -> randn_tensor draws image i's noise
    # from generators[i] alone (the VAE encode uses the latent mode, no randomness)
    generators = [torch.Generator(device="cpu").manual_seed(int(j.seed)) for j in jobs]

    # 4. call the pipeline with the hooks, the scheduler for this step count and the VAE
    # area in place; everything is restored after, even when the call raises. A masked
    # edit runs at Picture 1's VAE-copy size, blends its latents after every step and is
    # composited over Picture 1 at the end (mask_blend.py).
    masked = MaskedCall.of(jobs, images, variant)
    size = masked.size if masked else (job.width, job.height)
    with clock.hooks(pipe), _scheduler_for(pipe, steps, one_step_scheduler) as note:
        accel.reset_step_cache(pipe)
        with vae_image_area(job.vae_area, variant, size), _masking(pipe, masked):
            clock.start()
            arguments = {**_image_argument(images, variant), **_size_arguments(jobs, variant, size)}
            step_end = masked.step_end(clock.step_end) if masked else clock.step_end
            output = _call(pipe, jobs, arguments, generators, step_end, tensors=bool(masked))
            # 5. check the output (a masked edit's: composited over Picture 1)
            outputs = _checked_outputs(output.images, jobs, variant, size)
            outputs = masked.paste_back(outputs) if masked else outputs
            clock.finish()
        scheduler = accel.scheduler_receipt(pipe.scheduler)

    if note:
        scheduler["note"] = note
    if not variant.layered:
        return PipelineCall(images, outputs, clock.timings(), scheduler)
    firsts = [layers[0] for layers in outputs]
    return PipelineCall(images, firsts, clock.timings(), scheduler, outputs)


def _image_argument(images: list[Any], variant: QwenVariant) -> dict[str, Any]:
    """The pipeline's ``image`` argument: none for a text-to-image member; a one-image model
    (v1) gets its image as its docs call it: alone, not a list."""
    if not variant.takes_images:
        return {}
    return {"image": images[0] if variant.max_images == 1 else images}


def _size_arguments(
    jobs: list[EditJob], variant: QwenVariant, size: tuple[int, int]
) -> dict[str, Any]:
    """The output `size` and the model's own arguments. A layered member takes no size: it
    follows the input, sized at the job's VAE area (vae_image_area); its arguments
    (``layers``, ``resolution``...) are the job's ``pipeline_args``."""
    sizes = {} if variant.layered else {"height": int(size[1]), "width": int(size[0])}
    return {**sizes, **dict(jobs[0].pipeline_args)}


def _masking(pipe: Any, masked: MaskedCall | None) -> AbstractContextManager[None]:
    return masked.installed(pipe) if masked else nullcontext()


def _call(
    pipe: Any,
    jobs: list[EditJob],
    arguments: dict[str, Any],
    generators: list[Any],
    step_end: Callable[..., dict[str, Any]],
    *,
    tensors: bool = False,
) -> Any:
    job = jobs[0]
    cfg_active = job.true_cfg_scale > 1
    try:
        return pipe(
            **arguments,
            prompt=job.prompt,
            # Passed whenever CFG is asked for (without it the pipeline silently
            # skips CFG); with cfg <= 1 the pipeline ignores it and only warns.
            negative_prompt=job.negative_prompt if cfg_active else None,
            true_cfg_scale=float(job.true_cfg_scale),
            num_inference_steps=int(job.num_inference_steps),
            num_images_per_prompt=len(jobs),
            generator=generators if len(generators) > 1 else generators[0],
            callback_on_step_end=step_end,
            # the latents only where the callback changes them (a masked edit)
            callback_on_step_end_tensor_inputs=["latents"] if tensors else [],
            output_type="pil",
        )
    except BaseException:
        # The pipeline resets offload hooks and caches only when it finishes.
        pipe.maybe_free_model_hooks()
        raise


def _checked_outputs(
    images: list[Any], jobs: list[EditJob], variant: QwenVariant, size: tuple[int, int]
) -> list[Any]:
    """One image per job, of the call's `size` (a layered member: one list of layers per
    job, as many as asked)."""
    job = jobs[0]
    if len(images) != len(jobs):
        raise RuntimeError(f"pipeline returned {len(images)} images for {len(jobs)}")
    asked = dict(job.pipeline_args).get("layers")
    for output in images:
        layers = list(output) if variant.layered else [output]
        if not layers or (asked is not None and len(layers) != int(asked)):
            raise RuntimeError(f"pipeline returned {len(layers)} layers, {asked} were asked")
        for image in layers:
            if image.size != size:
                raise RuntimeError(
                    f"pipeline returned {image.size[0]}x{image.size[1]}, "
                    f"expected {size[0]}x{size[1]}"
                )
    return [list(output) for output in images] if variant.layered else list(images)


# --- timing --------------------------------------------------------------------------------------


def _synchronizer(device: str) -> Callable[[], None]:
    """Waits for the device, so that a time mark means the work before it is done."""
    import torch

    if device.startswith("cuda"):
        return lambda: torch.cuda.synchronize(torch.device(device))
    return _noop


class _CallClock:
    """Marks the phases of one call: text encode, VAE encode, denoising, decode."""

    def __init__(self, sync: Callable[[], None], on_step: StepCallback, steps: int) -> None:
        self._sync = sync
        self._on_step = on_step
        self._steps = steps
        self._marks: dict[str, float] = {}
        self._text_encode = 0.0
        self._started = 0.0
        self._finished = 0.0

    @contextmanager
    def hooks(self, pipe: Any) -> Iterator[None]:
        handles = [
            pipe.transformer.register_forward_pre_hook(self._transformer_pre_hook),
            pipe.text_encoder.register_forward_pre_hook(self._text_pre_hook),
            pipe.text_encoder.register_forward_hook(self._text_post_hook),
        ]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def start(self) -> None:
        self._sync()
        self._started = time.perf_counter()

    def finish(self) -> None:
        self._sync()
        self._finished = time.perf_counter()

    def step_end(self, _pipe: Any, i: int, _t: Any, _kwargs: dict[str, Any]) -> dict[str, Any]:
        self._sync()
        self._marks["last_step"] = time.perf_counter()
        # May raise GenerationCancelled: that stops the loop at once.
        self._on_step(i + 1, self._steps)
        return {}

    def timings(self) -> dict[str, float]:
        marks, started, finished = self._marks, self._started, self._finished
        denoise_start = marks.get("denoise_start", started)
        last_step = marks.get("last_step", denoise_start)
        text_end = min(marks.get("text_end", started), denoise_start)
        return {
            "encode": denoise_start - started,
            "text_encode": self._text_encode,
            "vae_encode": denoise_start - text_end,
            "denoise": last_step - denoise_start,
            "decode": finished - last_step,
            "inference": finished - started,
        }

    def _transformer_pre_hook(self, module: Any, args: Any) -> None:
        if "denoise_start" not in self._marks:
            self._sync()
            self._marks["denoise_start"] = time.perf_counter()

    def _text_pre_hook(self, module: Any, args: Any) -> None:
        self._sync()
        self._marks["text_start"] = time.perf_counter()

    def _text_post_hook(self, module: Any, args: Any, output: Any) -> None:
        self._sync()
        end = self._marks["text_end"] = time.perf_counter()
        self._text_encode += end - self._marks.pop("text_start", end)


def _noop() -> None:
    return None


# --- what the pipeline reads besides its arguments -----------------------------------------------


_VAE_AREA_LOCK = threading.Lock()


@contextmanager
def vae_image_area(
    area: int, variant: QwenVariant, size: tuple[int, int] | None = None
) -> Iterator[None]:
    """Size the pipeline's VAE copy of each input image at ~`area` pixels for one call.

    The Plus pipeline reads a module constant (``VAE_IMAGE_SIZE``); the v1 pipeline sizes
    its one input with the module's ``calculate_dimensions(1024 * 1024, ratio)``, which is
    wrapped to use `area` instead. A layered member sizes its input *and its output* with
    ``calculate_dimensions(resolution**2, ratio)``: given the planned `size` (which is that
    at `area`, sizing.py), the wrapper answers it as planned. Either is process-wide; the
    lock keeps two calls in one process from interleaving. A text-to-image member has no
    inputs: nothing to size.
    """
    if not variant.takes_images:
        yield
        return
    module: Any = importlib.import_module(variant.pipeline_module)
    if not variant.separate_condition_copy:
        with _VAE_AREA_LOCK:
            original_sizing = module.calculate_dimensions
            module.calculate_dimensions = lambda _area, ratio: (
                size if variant.layered and size else original_sizing(int(area), ratio)
            )
            try:
                yield
            finally:
                module.calculate_dimensions = original_sizing
        return
    with _VAE_AREA_LOCK:
        original = module.VAE_IMAGE_SIZE
        module.VAE_IMAGE_SIZE = int(area)
        try:
            yield
        finally:
            module.VAE_IMAGE_SIZE = original


@contextmanager
def _scheduler_for(pipe: Any, steps: int, one_step_scheduler: Any) -> Iterator[str | None]:
    """Swap in the one-step scheduler for a single step; yield a note for the receipt."""
    original = pipe.scheduler
    try:
        if steps == 1 and one_step_scheduler is not None:
            # See one_step_scheduler: with shift_terminal one sigma becomes NaN.
            pipe.scheduler = one_step_scheduler
            yield ONE_STEP_NOTE
        else:
            yield None
    finally:
        if pipe.scheduler is not original:
            pipe.scheduler = original


def one_step_scheduler(scheduler: Any) -> Any:
    """A copy of the scheduler for num_inference_steps=1, or None if not needed.

    The pipeline asks for sigmas linspace(1, 1/n, n): for n=1 just [1.0]. With
    ``shift_terminal`` set (the real Qwen-Image config has 0.02, like the tiny one),
    ``stretch_shift_to_terminal`` divides by (1 - last sigma) = 0 and the only sigma becomes
    NaN: a black image. Without shift_terminal the single step goes from pure noise
    (sigma 1) to sigma 0, i.e. one Euler step of the flow, which is what one step means.
    """
    if not getattr(scheduler.config, "shift_terminal", None):
        return None
    return type(scheduler).from_config(scheduler.config, shift_terminal=None)


def pipeline_dimensions(area: int, ratio: float) -> tuple[int, int]:
    """The pipeline's own ``calculate_dimensions`` (round to 32, no lower bound)."""
    width = math.sqrt(area * ratio)
    height = width / ratio
    return round(width / 32) * 32, round(height / 32) * 32
