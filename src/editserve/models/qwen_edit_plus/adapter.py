"""The model adapter of qwen-image-edit-plus: diffusers' ``QwenImageEditPlusPipeline``.

It lives only in worker processes. torch and diffusers are imported inside the methods,
so importing this module (e.g. from the model registry in the API process) stays cheap.

Weights (``Settings.model_weights``):

- ``auto``: the real hub weights when CUDA is available, otherwise the tiny random model
  (with a loud warning: its outputs are noise).
- ``tiny``: the tiny random-weight model, built once under ``data_dir/models``.
- an existing local folder: a saved ``QwenImageEditPlusPipeline``.
- anything else: a Hugging Face Hub id, at ``Settings.model_revision``.

All of them load through the same ``QwenImageEditPlusPipeline.from_pretrained`` call.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import json
import logging
import math
import os
import platform
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from editserve.config import Settings
from editserve.models.base import EditJob, EditResult, LoadedWeights, ModelLoadError, StepCallback

from . import accel
from .fingerprint import folder_fingerprint, snapshot_commit
from .options import (
    ModelOptions,
    OptionsError,
    check_options,
    device_kind,
    hub_offline,
    warnings_for,
)
from .sizing import calculate_dimensions
from .tiny import COMPONENTS, PIPELINE_CLASS, ensure_tiny_weights

logger = logging.getLogger("editserve.model")

MODEL_ID = "qwen-image-edit-plus"
HUB_ID = "Qwen/Qwen-Image-Edit-2509"
TINY_SOURCE = "tiny-random"
TINY_FOLDER_NAME = "tiny-qwen-image-edit-plus"
PIPELINE_MODULE = "diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus"
# The pipeline floors height/width to multiples of vae_scale_factor * 2.
SIZE_MULTIPLE = 16
# Smallest VAE area we accept (one 32x32 tile; Settings refuses smaller output areas).
MIN_VAE_AREA = 32 * 32
WARMUP_SIZE = 64

_DTYPES = {
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "float16": "float16",
    "half": "float16",
    "fp32": "float32",
    "float32": "float32",
    "float": "float32",
}
_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


# --- resolving settings (pure functions, no torch) ---------------------------------------


@dataclass(frozen=True)
class WeightsChoice:
    """Where the weights come from, decided from the settings before anything is loaded."""

    kind: Literal["tiny", "local", "hub"]
    location: str  # folder path (tiny/local) or hub id
    revision: str | None = None
    auto_fallback: bool = False  # `auto` fell back to tiny for lack of CUDA


def resolve_weights(settings: Settings, cuda_available: bool) -> WeightsChoice:
    """Turn ``settings.model_weights`` into a concrete choice, or raise ModelLoadError."""
    value = (settings.model_weights or "auto").strip()
    tiny_folder = str(tiny_weights_folder(settings))
    if value.lower() == "auto":
        if cuda_available:
            return WeightsChoice("hub", HUB_ID, settings.model_revision)
        return WeightsChoice("tiny", tiny_folder, auto_fallback=True)
    if value.lower() == "tiny":
        return WeightsChoice("tiny", tiny_folder)
    path = Path(value).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(
                f"model weights {value!r} is a file; give a folder holding a saved "
                f"{PIPELINE_CLASS} (with model_index.json), a hub id, 'tiny' or 'auto'"
            )
        return WeightsChoice("local", str(path.absolute()))
    if not _looks_like_path(value) and not _HUB_ID_RE.match(value):
        raise ModelLoadError(
            f"model weights {value!r} is neither an existing folder nor a hub id "
            f"(owner/name, e.g. {HUB_ID}); use a folder, a hub id, 'tiny' or 'auto'"
        )
    if _looks_like_path(value):
        raise ModelLoadError(
            f"model weights folder {value!r} does not exist (set EDITSERVE_MODEL_WEIGHTS to an "
            f"existing folder, a hub id such as {HUB_ID}, 'tiny' or 'auto')"
        )
    return WeightsChoice("hub", value, settings.model_revision)


def tiny_weights_folder(settings: Settings) -> Path:
    """Where the tiny model is built: ``settings.tiny_weights_dir`` or data_dir/models/."""
    if settings.tiny_weights_dir:
        return Path(settings.tiny_weights_dir).expanduser()
    return settings.data_dir / "models" / TINY_FOLDER_NAME


def _looks_like_path(value: str) -> bool:
    return (
        value.startswith(("/", "./", "../", "~", ".\\", "..\\"))
        or value in {".", ".."}
        or "\\" in value
        or value.count("/") > 1
        or os.path.isabs(value)
    )


def resolve_device(requested: str, cuda_available: bool, cuda_count: int = 0) -> str:
    """``auto`` → ``cuda`` if available else ``cpu``; check explicit CUDA devices exist."""
    value = (requested or "auto").strip().lower()
    if value == "auto":
        return "cuda" if cuda_available else "cpu"
    if value == "cpu":
        return "cpu"
    match = re.fullmatch(r"cuda(?::(\d+))?", value)
    if not match:
        raise ModelLoadError(f"device {requested!r} is not one of auto, cpu, cuda, cuda:N")
    if not cuda_available:
        raise ModelLoadError(f"device {requested!r} was asked for but CUDA is not available")
    if match.group(1) is not None and int(match.group(1)) >= cuda_count:
        raise ModelLoadError(
            f"device {requested!r} does not exist: this machine has {cuda_count} CUDA device(s)"
        )
    return value


def resolve_dtype(requested: str, device: str) -> str:
    """``auto`` → bfloat16 on CUDA, float32 on the CPU; explicit names are honoured."""
    value = (requested or "auto").strip().lower()
    if value == "auto":
        return "bfloat16" if device.startswith("cuda") else "float32"
    if value not in _DTYPES:
        raise ModelLoadError(f"dtype {requested!r} is not one of auto, bf16, fp16, fp32")
    return _DTYPES[value]


def _hub_offline() -> bool:
    return hub_offline()


def check_pipeline_folder(folder: Path) -> None:
    """Raise ModelLoadError unless `folder` looks like a saved QwenImageEditPlusPipeline."""
    index_file = folder / "model_index.json"
    if not index_file.is_file():
        raise ModelLoadError(
            f"{folder} is not a diffusers pipeline folder (no model_index.json); "
            f"it must hold a saved {PIPELINE_CLASS}"
        )
    try:
        index = json.loads(index_file.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{index_file} is not readable JSON: {exc}") from None
    class_name = index.get("_class_name") if isinstance(index, dict) else None
    if class_name != PIPELINE_CLASS:
        raise ModelLoadError(
            f"{folder} holds a {class_name or 'unknown pipeline'}, not a {PIPELINE_CLASS} "
            f"(Qwen-Image-Edit-2509); point EDITSERVE_MODEL_WEIGHTS at the right folder"
        )
    missing = [name for name in COMPONENTS if name not in index or not (folder / name).is_dir()]
    if missing:
        raise ModelLoadError(f"{folder} is missing pipeline component(s): {', '.join(missing)}")


def _short(exc: BaseException) -> str:
    """One line for an error message: the exception's first line, not a traceback."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__


# --- context managers around one call -------------------------------------------------------

_VAE_AREA_LOCK = threading.Lock()


@contextmanager
def vae_image_area(area: int) -> Iterator[None]:
    """Size the pipeline's VAE copy of each input image at ~`area` pixels for one call.

    The pipeline reads a module constant (``VAE_IMAGE_SIZE``), so this is process-wide;
    the lock keeps two calls in one process from interleaving.
    """
    module: Any = importlib.import_module(PIPELINE_MODULE)
    with _VAE_AREA_LOCK:
        original = module.VAE_IMAGE_SIZE
        module.VAE_IMAGE_SIZE = int(area)
        try:
            yield
        finally:
            module.VAE_IMAGE_SIZE = original


def pipeline_dimensions(area: int, ratio: float) -> tuple[int, int]:
    """The pipeline's own ``calculate_dimensions`` (round to 32, no lower bound)."""
    width = math.sqrt(area * ratio)
    height = width / ratio
    return round(width / 32) * 32, round(height / 32) * 32


# --- the adapter -------------------------------------------------------------------------------


class QwenImageEditPlusAdapter:
    """Loads QwenImageEditPlusPipeline once, applies the speed/memory options, runs edits.

    ``device`` overrides ``settings.device`` (the supervisor passes e.g. ``"cuda:1"``).
    Generations of one request run as one batched pipeline call (:meth:`generate_batch`).
    """

    def __init__(self, settings: Settings, device: str | None = None, *, warmup: bool = True):
        self.settings = settings
        self._device_request = device if device is not None else settings.device
        self._warmup = warmup
        # diffusers' lazy exports defeat type checkers: the pipeline is typed as Any.
        self._pipe: Any = None
        self._one_step_scheduler: Any = None
        self._loaded: LoadedWeights | None = None
        self._options: ModelOptions | None = None
        self._options_in_force: dict[str, Any] = {}
        self._weights_hash: dict[str, Any] | None = None
        self._versions: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- public ------------------------------------------------------------------------------

    @property
    def loaded(self) -> LoadedWeights | None:
        return self._loaded

    @property
    def options(self) -> ModelOptions | None:
        return self._options

    @property
    def pipeline(self) -> Any:
        """The loaded ``QwenImageEditPlusPipeline`` (for tests and diagnostics)."""
        if self._pipe is None:
            raise RuntimeError("the model is not loaded: call load() first")
        return self._pipe

    def load(self) -> LoadedWeights:
        """Resolve, load, apply the options, place on the device and warm up the pipeline."""
        import torch

        started = time.perf_counter()
        _quiet_library_progress_bars()
        if self.settings.torch_threads:
            torch.set_num_threads(int(self.settings.torch_threads))
        cuda_available = torch.cuda.is_available()
        cuda_count = torch.cuda.device_count() if cuda_available else 0
        device = resolve_device(self._device_request, cuda_available, cuda_count)
        dtype_name = resolve_dtype(self.settings.dtype, device)
        kind = device_kind(device)
        try:
            options = check_options(self.settings, kind, offline=_hub_offline())
        except OptionsError as exc:
            raise ModelLoadError(str(exc)) from None
        for note in warnings_for(options, kind):
            logger.warning("model options: %s", note)
        accel.check_hardware(options, device)
        # `auto` means the real weights only where they can run: on a CUDA device.
        choice = resolve_weights(self.settings, cuda_available=device.startswith("cuda"))
        self._versions = _library_versions()

        revision = choice.revision
        weights_hash: dict[str, Any] | None = None
        if choice.kind == "tiny":
            if choice.auto_fallback:
                _warn_tiny_fallback()
            else:
                logger.info("loading the tiny random-weight model (outputs are noise)")
            try:
                folder = ensure_tiny_weights(Path(choice.location))
            except Exception as exc:
                raise ModelLoadError(
                    f"could not build the tiny model in {choice.location}: {_short(exc)}"
                ) from exc
            source, is_tiny = TINY_SOURCE, True
            pipe = self._from_pretrained(str(folder), dtype_name, local=True)
            weights_hash = folder_fingerprint(folder)
        elif choice.kind == "local":
            folder = Path(choice.location)
            check_pipeline_folder(folder)
            source, is_tiny = str(folder), _is_tiny_folder(folder)
            revision = snapshot_commit(folder)
            pipe = self._from_pretrained(str(folder), dtype_name, local=True)
            weights_hash = folder_fingerprint(folder)
        else:
            folder = None
            source, is_tiny = choice.location, False
            revision = self._check_hub(choice.location, choice.revision) or revision
            pipe = self._from_pretrained(
                choice.location, dtype_name, local=_hub_offline(), revision=choice.revision
            )
        if device == "cpu" and not is_tiny:
            logger.warning(
                "running the real Qwen-Image-Edit-2509 weights on the CPU: expect minutes per "
                "step and ~%s GB of RAM",
                "115" if dtype_name == "float32" else "58",
            )

        in_force = self._apply_options(pipe, options, device)
        pipe.set_progress_bar_config(disable=True)
        self._pipe = pipe
        self._options = options
        self._options_in_force = in_force
        self._weights_hash = weights_hash
        self._one_step_scheduler = _one_step_scheduler(pipe.scheduler)
        load_seconds = time.perf_counter() - started

        details: dict[str, Any] = {
            "model": MODEL_ID,
            "pipeline": type(pipe).__name__,
            "options": in_force,
            "scheduler": {
                key: value
                for key, value in accel.scheduler_receipt(pipe.scheduler).items()
                if key != "sigmas"
            },
            "versions": dict(self._versions),
            "load_seconds": round(load_seconds, 3),
            "parameters": {
                name: sum(p.numel() for p in getattr(pipe, name).parameters())
                for name in ("transformer", "text_encoder", "vae")
            },
            "torch_threads": torch.get_num_threads(),
        }
        if weights_hash is not None:
            details["weights_hash"] = weights_hash
        if folder is not None:
            details["folder"] = str(folder)
        if choice.auto_fallback:
            details["auto_fallback"] = "no CUDA device: tiny random weights"
        if device.startswith("cuda"):
            details["cuda_device_name"] = torch.cuda.get_device_name(torch.device(device))
            capability = torch.cuda.get_device_capability(torch.device(device))
            details["cuda_capability"] = f"{capability[0]}.{capability[1]}"
        self._loaded = LoadedWeights(
            source=source,
            revision=revision,
            is_tiny=is_tiny,
            device=device,
            dtype=dtype_name,
            details=details,
        )

        if self._warmup:
            warm_started = time.perf_counter()
            try:
                self._warm_up()
            except Exception as exc:
                raise ModelLoadError(
                    f"the model loaded but a warm-up run failed: {_short(exc)}"
                ) from exc
            details["warmup_seconds"] = round(time.perf_counter() - warm_started, 3)
        logger.info(
            "model ready: %s (revision %s) on %s as %s in %.1fs; options %s",
            source,
            revision or "-",
            device,
            dtype_name,
            time.perf_counter() - started,
            json.dumps(in_force),
        )
        return self._loaded

    def generate(self, job: EditJob, on_step: StepCallback) -> EditResult:
        """Run one edit; ``on_step(k, n)`` after every step (it may raise GenerationCancelled)."""
        with self._lock:
            return self._run([job], on_step)[0]

    def generate_batch(self, jobs: list[EditJob], on_step: StepCallback) -> list[EditResult]:
        """Run jobs that differ only in their seed as one pipeline call.

        One call with ``num_images_per_prompt=len(jobs)`` and one ``torch.Generator`` per
        image: the pipeline draws each image's initial noise from its own generator, so
        image i equals a single run with ``jobs[i].seed`` (up to float rounding of the
        batched matmuls) and every recorded seed reproduces its image alone.
        """
        if not jobs:
            return []
        _check_batchable(jobs)
        with self._lock:
            return self._run(list(jobs), on_step)

    # -- loading helpers -----------------------------------------------------------------------

    def _apply_options(self, pipe: Any, options: ModelOptions, device: str) -> dict[str, Any]:
        """Apply the options in the only order that works; return what is in force."""
        in_force = options.describe()
        accel.check_not_prequantized(pipe, options)
        transforms = options.lightning or options.quantization != "none"
        if transforms and options.memory_mode == "none" and device != "cpu":
            # Fuse and quantise on the GPU (seconds) rather than on the CPU (minutes); with
            # an offload mode the transformer may not fit, so that happens on the CPU.
            self._move(pipe.transformer, device)
        if options.lightning:
            assert options.lightning_lora is not None
            path, lora_info = accel.resolve_lora_file(
                options.lightning_lora, offline=_hub_offline()
            )
            lora_info.update(accel.fuse_lightning_lora(pipe, path))
            pipe.scheduler = accel.lightning_scheduler(pipe.scheduler)
            in_force["lightning"]["lora"] = {**in_force["lightning"]["lora"], **lora_info}
        if options.quantization != "none":
            in_force["quantization"] = accel.quantize_transformer(
                pipe.transformer, options.quantization
            )
        try:
            accel.place_pipeline(pipe, options, device)
        except Exception as exc:
            raise ModelLoadError(
                f"could not put the model on {device} with memory_mode "
                f"{options.memory_mode}: {_short(exc)}"
            ) from exc
        accel.set_attention_backend(pipe, options.attention_backend)
        accel.enable_step_cache(pipe, options)
        if options.compile_repeated_blocks:
            accel.compile_blocks(pipe, options)
        return in_force

    @staticmethod
    def _move(module: Any, device: str) -> None:
        try:
            module.to(device)
        except Exception as exc:
            raise ModelLoadError(f"could not move the model to {device}: {_short(exc)}") from exc

    def _from_pretrained(
        self, location: str, dtype_name: str, *, local: bool, revision: str | None = None
    ) -> Any:
        import torch
        from diffusers import QwenImageEditPlusPipeline

        kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype_name)}
        if local:
            kwargs["local_files_only"] = True
        if revision:
            kwargs["revision"] = revision
        try:
            pipe = QwenImageEditPlusPipeline.from_pretrained(location, **kwargs)
        except ModelLoadError:
            raise
        except Exception as exc:
            where = f"{location}@{revision}" if revision else location
            raise ModelLoadError(
                f"could not load {PIPELINE_CLASS} from {where}: {_short(exc)}"
            ) from exc
        if not isinstance(pipe, QwenImageEditPlusPipeline):
            raise ModelLoadError(
                f"{location} loaded as {type(pipe).__name__}, not {PIPELINE_CLASS}"
            )
        return pipe

    def _check_hub(self, repo_id: str, revision: str | None) -> str | None:
        """Fetch model_index.json first: clear errors, and the commit actually used."""
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (
            GatedRepoError,
            HFValidationError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        offline = _hub_offline()
        where = f"{repo_id}@{revision}" if revision else repo_id
        try:
            index_path = Path(
                hf_hub_download(
                    repo_id, "model_index.json", revision=revision, local_files_only=offline
                )
            )
        except GatedRepoError:
            raise ModelLoadError(
                f"{where} is gated on the Hugging Face Hub: accept its terms and set HF_TOKEN"
            ) from None
        except RepositoryNotFoundError:
            raise ModelLoadError(
                f"{where} was not found on the Hugging Face Hub (or needs a token: set HF_TOKEN)"
            ) from None
        except RevisionNotFoundError:
            raise ModelLoadError(f"revision {revision!r} of {repo_id} does not exist") from None
        except HFValidationError as exc:
            raise ModelLoadError(f"{repo_id!r} is not a valid hub id: {_short(exc)}") from None
        except LocalEntryNotFoundError:
            if offline:
                reason = "HF_HUB_OFFLINE is set and it is not in the local Hugging Face cache"
            else:
                reason = "the Hugging Face Hub is unreachable and it is not in the local cache"
            raise ModelLoadError(
                f"cannot load {where}: {reason}. Download it where the hub is reachable "
                f"(hf download {repo_id}) or set EDITSERVE_MODEL_WEIGHTS to a local folder"
            ) from None
        except Exception as exc:
            raise ModelLoadError(
                f"cannot reach the Hugging Face Hub for {where}: {_short(exc)}"
            ) from None
        check_pipeline_folder_index_only(index_path, where)
        # Cached files live in .../snapshots/<commit>/model_index.json
        commit = index_path.parent.name
        return commit if re.fullmatch(r"[0-9a-f]{40}", commit) else None

    def _warm_up(self) -> None:
        """Run the pipeline once (twice with compile: a second size makes the compiled
        blocks shape-dynamic, so later sizes do not each recompile)."""
        from PIL import Image

        sizes = [(WARMUP_SIZE, WARMUP_SIZE)]
        if self._options is not None and self._options.compile_repeated_blocks:
            native = calculate_dimensions(self.settings.output_area, 1.0)
            if native not in sizes:
                sizes.append(native)
        image = Image.new("RGB", (WARMUP_SIZE, WARMUP_SIZE), (127, 127, 127))
        for width, height in sizes:
            job = EditJob(
                prompt="warm up",
                images=[image],
                width=width,
                height=height,
                seed=0,
                num_inference_steps=2,
                true_cfg_scale=4.0,
                vae_area=width * height,
            )
            self.generate(job, lambda step, total: None)

    # -- one pipeline call -----------------------------------------------------------------------

    def _run(self, jobs: list[EditJob], on_step: StepCallback) -> list[EditResult]:
        import torch

        pipe = self.pipeline
        loaded = self._loaded
        assert loaded is not None
        job = jobs[0]
        images = _validated_images(job)
        steps = int(job.num_inference_steps)
        _validate_job(job)

        cfg_active = job.true_cfg_scale > 1
        is_cuda = loaded.device.startswith("cuda")
        sync: Callable[[], None] = (
            (lambda: torch.cuda.synchronize(torch.device(loaded.device))) if is_cuda else _noop
        )
        marks: dict[str, float] = {}
        text_encode = [0.0]

        def transformer_pre_hook(module: Any, args: Any) -> None:
            if "denoise_start" not in marks:
                sync()
                marks["denoise_start"] = time.perf_counter()

        def text_pre_hook(module: Any, args: Any) -> None:
            sync()
            marks["text_start"] = time.perf_counter()

        def text_post_hook(module: Any, args: Any, output: Any) -> None:
            sync()
            marks["text_end"] = time.perf_counter()
            text_encode[0] += marks["text_end"] - marks.pop("text_start", marks["text_end"])

        def step_end(_pipe: Any, i: int, _t: Any, _kwargs: dict[str, Any]) -> dict[str, Any]:
            sync()
            marks["last_step"] = time.perf_counter()
            # May raise GenerationCancelled: that stops the loop at once.
            on_step(i + 1, steps)
            return {}

        # One generator per image: prepare_latents -> randn_tensor draws image i's noise
        # from generators[i] alone (the VAE encode uses the latent mode, no randomness).
        generators = [torch.Generator(device="cpu").manual_seed(int(j.seed)) for j in jobs]
        scheduler_note = None
        handles = [
            pipe.transformer.register_forward_pre_hook(transformer_pre_hook),
            pipe.text_encoder.register_forward_pre_hook(text_pre_hook),
            pipe.text_encoder.register_forward_hook(text_post_hook),
        ]
        original_scheduler = pipe.scheduler
        accel.reset_step_cache(pipe)
        try:
            if steps == 1 and self._one_step_scheduler is not None:
                # See _one_step_scheduler: with shift_terminal one sigma becomes NaN.
                pipe.scheduler = self._one_step_scheduler
                scheduler_note = "shift_terminal disabled for a single step (sigmas 1.0 -> 0.0)"
            with vae_image_area(job.vae_area):
                sync()
                started = time.perf_counter()
                try:
                    output = pipe(
                        image=images,
                        prompt=job.prompt,
                        # Passed whenever CFG is asked for (without it the pipeline silently
                        # skips CFG); with cfg <= 1 the pipeline ignores it and only warns.
                        negative_prompt=job.negative_prompt if cfg_active else None,
                        true_cfg_scale=float(job.true_cfg_scale),
                        height=int(job.height),
                        width=int(job.width),
                        num_inference_steps=steps,
                        num_images_per_prompt=len(jobs),
                        generator=generators if len(generators) > 1 else generators[0],
                        callback_on_step_end=step_end,
                        callback_on_step_end_tensor_inputs=[],
                        output_type="pil",
                    )
                except BaseException:
                    # The pipeline resets offload hooks and caches only when it finishes.
                    pipe.maybe_free_model_hooks()
                    raise
                sync()
                finished = time.perf_counter()
            scheduler_info = accel.scheduler_receipt(pipe.scheduler)
        finally:
            for handle in handles:
                handle.remove()
            if pipe.scheduler is not original_scheduler:
                pipe.scheduler = original_scheduler

        if len(output.images) != len(jobs):
            raise RuntimeError(f"pipeline returned {len(output.images)} images for {len(jobs)}")
        for image in output.images:
            if image.size != (job.width, job.height):
                raise RuntimeError(
                    f"pipeline returned {image.size[0]}x{image.size[1]}, "
                    f"expected {job.width}x{job.height}"
                )
        denoise_start = marks.get("denoise_start", started)
        last_step = marks.get("last_step", denoise_start)
        text_end = min(marks.get("text_end", started), denoise_start)
        timings = {
            "encode": denoise_start - started,
            "text_encode": text_encode[0],
            "vae_encode": denoise_start - text_end,
            "denoise": last_step - denoise_start,
            "decode": finished - last_step,
            "inference": finished - started,
        }
        if scheduler_note:
            scheduler_info["note"] = scheduler_note
        results = []
        for index, (one, image) in enumerate(zip(jobs, output.images, strict=True)):
            receipt = self._receipt(one, images, scheduler_info)
            receipt["batch"] = {"size": len(jobs), "index": index}
            results.append(EditResult(image=image, timings=dict(timings), receipt=receipt))
        return results

    def _receipt(
        self, job: EditJob, images: list[Any], scheduler: dict[str, Any]
    ) -> dict[str, Any]:
        loaded = self._loaded
        assert loaded is not None and self._pipe is not None
        cfg_active = job.true_cfg_scale > 1 and job.negative_prompt is not None
        return {
            "model": MODEL_ID,
            "weights": loaded.source,
            "revision": loaded.revision,
            "weights_hash": (self._weights_hash or {}).get("sha256"),
            "is_tiny": loaded.is_tiny,
            "device": loaded.device,
            "dtype": loaded.dtype,
            "width": job.width,
            "height": job.height,
            "steps": job.num_inference_steps,
            "true_cfg_scale": job.true_cfg_scale,
            "cfg": cfg_active,
            "seed": job.seed,
            "negative_prompt": job.negative_prompt,
            "num_input_images": len(images),
            "input_sizes": [list(img.size) for img in images],
            "vae_area": job.vae_area,
            "vae_input_sizes": [
                list(pipeline_dimensions(job.vae_area, img.size[0] / img.size[1])) for img in images
            ],
            "scheduler": scheduler,
            "options": self._options_in_force,
            "versions": dict(self._versions),
        }


# --- small helpers ------------------------------------------------------------------------------


def check_pipeline_folder_index_only(index_path: Path, where: str) -> None:
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"model_index.json of {where} is not readable JSON: {exc}") from None
    class_name = index.get("_class_name") if isinstance(index, dict) else None
    if class_name != PIPELINE_CLASS:
        raise ModelLoadError(
            f"{where} holds a {class_name or 'unknown pipeline'}, not a {PIPELINE_CLASS}"
        )


def _one_step_scheduler(scheduler: Any) -> Any:
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


def _validated_images(job: EditJob) -> list[Any]:
    if not job.images:
        raise ValueError("an edit needs at least one input image")
    images = []
    for index, image in enumerate(job.images):
        if image.mode != "RGB":
            # The VAE only takes 3 channels; the inputs module should already give RGB.
            logger.warning("input image %d is %s, converting to RGB", index + 1, image.mode)
            image = image.convert("RGB")
        images.append(image)
    return images


def _check_batchable(jobs: list[EditJob]) -> None:
    """A batch is one pipeline call: its jobs may differ in nothing but the seed."""
    first = jobs[0]
    for other in jobs[1:]:
        same = (
            other.prompt == first.prompt
            and other.negative_prompt == first.negative_prompt
            and other.width == first.width
            and other.height == first.height
            and other.num_inference_steps == first.num_inference_steps
            and other.true_cfg_scale == first.true_cfg_scale
            and other.vae_area == first.vae_area
            and len(other.images) == len(first.images)
            and all(a is b or a == b for a, b in zip(other.images, first.images, strict=True))
        )
        if not same:
            raise ValueError("jobs of one batch must differ only in their seed")


def _validate_job(job: EditJob) -> None:
    if job.num_inference_steps < 1:
        raise ValueError("num_inference_steps must be at least 1")
    for name, value in (("width", job.width), ("height", job.height)):
        if value < SIZE_MULTIPLE or value % SIZE_MULTIPLE:
            raise ValueError(
                f"{name} {value} must be a positive multiple of {SIZE_MULTIPLE} "
                "(the pipeline would silently round it down)"
            )
    if job.vae_area < MIN_VAE_AREA:
        raise ValueError(f"vae_area {job.vae_area} is below the minimum {MIN_VAE_AREA}")
    for index, image in enumerate(job.images):
        ratio = image.size[0] / image.size[1]
        for area_name, area in (("VAE", job.vae_area), ("condition", 384 * 384)):
            w, h = pipeline_dimensions(area, ratio)
            if w < 32 or h < 32:
                raise ValueError(
                    f"input image {index + 1} ({image.size[0]}x{image.size[1]}) is too "
                    f"elongated: its {area_name} copy would be {w}x{h} pixels"
                )


def _is_tiny_folder(folder: Path) -> bool:
    from .tiny import MARKER_FILE

    return (folder / MARKER_FILE).is_file()


def _warn_tiny_fallback() -> None:
    bar = "!" * 78
    logger.warning(
        "\n%s\n"
        "EDITSERVE_MODEL_WEIGHTS=auto and no CUDA GPU is available: loading the TINY\n"
        "RANDOM-WEIGHT model. Every output will be noise, not an edit of your image.\n"
        "On a GPU machine use EDITSERVE_MODEL_WEIGHTS=%s (or a local folder);\n"
        "set EDITSERVE_MODEL_WEIGHTS=tiny to ask for the tiny model explicitly.\n"
        "%s",
        bar,
        HUB_ID,
        bar,
    )


def _library_versions() -> dict[str, str]:
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


def _noop() -> None:
    return None


if TYPE_CHECKING:  # the adapter must satisfy the protocol the worker uses
    from editserve.models.base import ModelAdapter

    _protocol_check: type[ModelAdapter] = QwenImageEditPlusAdapter
