"""The model adapter of the Qwen-Image family (diffusers' ``QwenImageEditPlusPipeline`` and
``QwenImageEditPipeline``; the text-to-image members' ``QwenImagePipeline`` subclass it in
models/qwen_image/runtime/adapter.py): one class, one subclass per member naming its record.

It lives only in worker processes. torch and diffusers are imported inside the functions,
so importing this module (e.g. from the model registry in the API process) stays cheap.

The adapter only wires the steps together; each lives in a module of its own:

- weights.py: where the weights come from (hub id, local folder, tiny random weights),
  device and dtype, checking a pipeline folder, ``from_pretrained``;
- loading.py: the load sequence (options → weights → apply options → place → warm-up);
- call.py: one pipeline call (hooks, timings, generators, scheduler and VAE area);
- receipt.py: the receipt of each image; request/jobs.py: building jobs (the warm-up's too).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from editserve.core.settings import Settings
from editserve.domain.stages import StageCallback, ignore_stage
from editserve.models.base import EditJob, EditResult, LoadedWeights, StepCallback
from editserve.models.qwen_image_edit.members import EDIT_2509, EDIT_2511, EDIT_V1
from editserve.models.qwen_image_edit.request.jobs import WARMUP_SIZE
from editserve.models.qwen_image_edit.request.options import ModelOptions
from editserve.models.qwen_image_edit.request.weights_choice import (
    WeightsChoice,
    resolve_weights,
    tiny_weights_folder,
)
from editserve.models.qwen_image_edit.runtime.call import (
    pipeline_dimensions,
    run_pipeline,
    vae_image_area,
)
from editserve.models.qwen_image_edit.runtime.encode_cache import EncodeCache
from editserve.models.qwen_image_edit.runtime.job_checks import (
    MIN_VAE_AREA,
    SIZE_MULTIPLE,
    check_batchable,
)
from editserve.models.qwen_image_edit.runtime.loading import (
    LoadedPipeline,
    load_pipeline,
    log_ready,
    warm_up,
)
from editserve.models.qwen_image_edit.runtime.lora_apply import LoraSet
from editserve.models.qwen_image_edit.runtime.receipt import edit_receipt
from editserve.models.qwen_image_edit.runtime.shared import KEPT
from editserve.models.qwen_image_edit.runtime.weights import (
    check_pipeline_folder,
    check_pipeline_folder_index_only,
    resolve_device,
    resolve_dtype,
)
from editserve.models.qwen_image_edit.variant import QwenVariant

# Names other modules and tests have always imported from here.
__all__ = [
    "MIN_VAE_AREA",
    "SIZE_MULTIPLE",
    "WARMUP_SIZE",
    "FamilyAdapter",
    "QwenImageEdit2511Adapter",
    "QwenImageEditAdapter",
    "QwenImageEditPlusAdapter",
    "WeightsChoice",
    "check_pipeline_folder",
    "check_pipeline_folder_index_only",
    "pipeline_dimensions",
    "resolve_device",
    "resolve_dtype",
    "resolve_weights",
    "tiny_weights_folder",
    "vae_image_area",
]


class FamilyAdapter:
    """Loads a member's pipeline once, applies the speed/memory options, runs its jobs.

    ``device`` overrides ``settings.device`` (the supervisor passes e.g. ``"cuda:1"``);
    ``on_stage`` hears each start-up stage with its figures (the worker reports them).
    Generations of one request run as one batched pipeline call (:meth:`generate_batch`).
    """

    # Jobs that differ only in their seed run as one call (generate_batch).
    supports_batch: ClassVar[bool] = True
    # Which member of the Qwen-Image-Edit family: each member's adapter below sets it.
    variant: ClassVar[QwenVariant]

    def __init__(
        self,
        settings: Settings,
        device: str | None = None,
        *,
        warmup: bool = True,
        on_stage: StageCallback | None = None,
    ):
        self.settings = settings
        self._on_stage = on_stage or ignore_stage
        self._device_request = device if device is not None else settings.device
        self._warmup = warmup
        self._state: LoadedPipeline | None = None
        self._lock = threading.Lock()
        # The request LoRAs loaded into this pipeline (loras.py, lora_apply.py).
        self.loras = LoraSet(settings, self.variant.model_id)
        # A sweep's encode cache while its calls run (shared_encodings).
        self._encodings: EncodeCache | None = None

    @property
    def loaded(self) -> LoadedWeights | None:
        return self._state.loaded if self._state is not None else None

    @property
    def options(self) -> ModelOptions | None:
        return self._state.options if self._state is not None else None

    @property
    def pipeline(self) -> Any:
        """The loaded pipeline (for tests and diagnostics)."""
        if self._state is None:
            raise RuntimeError("the model is not loaded: call load() first")
        return self._state.pipe

    def load(self) -> LoadedWeights:
        """Resolve, load, apply the options, place on the device and warm up the pipeline."""
        # 1. resolve device, dtype, options and weights; load; apply the options; place
        self._state = state = load_pipeline(
            self.settings, self._device_request, self._on_stage, self.variant
        )
        self.loras = LoraSet(self.settings, self.variant.model_id)
        # 2. warm up through generate(), exactly as a request runs
        if self._warmup:
            generate = lambda job: self.generate(job, _ignore_steps)  # noqa: E731
            warm_up(state, self.settings, generate, self._on_stage)
        log_ready(state)
        return state.loaded

    def unload(self) -> None:
        """Let go of the pipeline (the worker is swapping models), keeping the components
        another member could take as they are (shared.py)."""
        with self._lock:
            state, self._state = self._state, None
        if state is not None:
            loaded = state.loaded
            KEPT.keep(
                state.pipe,
                state.components_folder,
                loaded.dtype,
                loaded.device,
                state.options.memory_mode,
            )

    def generate(self, job: EditJob, on_step: StepCallback) -> EditResult:
        """Run one job; ``on_step(k, n)`` after every step (it may raise GenerationCancelled)."""
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
        check_batchable(jobs)
        with self._lock:
            return self._run(list(jobs), on_step)

    @contextmanager
    def shared_encodings(self) -> Iterator[EncodeCache]:
        """For the calls of one sweep (worker/sweep.py): the prompt and the pictures are
        encoded once and reused by every call while the block runs (encode_cache.py)."""
        cache = EncodeCache()
        with cache.installed(self.pipeline):
            self._encodings = cache
            try:
                yield cache
            finally:
                self._encodings = None

    def _run(self, jobs: list[EditJob], on_step: StepCallback) -> list[EditResult]:
        pipe = self.pipeline
        state = self._state
        assert state is not None
        # the job's LoRAs are active for this call only (JobRefused if one cannot be used)
        with self.loras.applied(pipe, jobs[0].loras) as loras:
            call = run_pipeline(
                pipe,
                jobs,
                on_step,
                device=state.loaded.device,
                one_step_scheduler=state.one_step_scheduler,
                variant=state.variant,
            )
        # a sweep's calls: what its encode cache computed and reused so far
        cache = self._encodings
        shared = {"shared_encodings": cache.receipt()} if cache is not None else {}
        return [
            EditResult(
                image=image,
                timings=dict(call.timings),
                receipt={
                    **edit_receipt(one, call, state, index=index, batch_size=len(jobs)),
                    "loras": loras,
                    **shared,
                },
                layers=call.layers[index] if call.layers else [],
            )
            for index, (one, image) in enumerate(zip(jobs, call.outputs, strict=True))
        ]


def _ignore_steps(step: int, total: int) -> None:
    return None


if TYPE_CHECKING:  # the adapter must satisfy the protocol the worker uses
    from editserve.models.base import ModelAdapter

    _protocol_check: type[ModelAdapter] = FamilyAdapter


# --- the members' adapters (registry entries name them by import path) ---------------------


class QwenImageEditPlusAdapter(FamilyAdapter):
    """Qwen-Image-Edit-2509 (QwenImageEditPlusPipeline, 1-3 input images)."""

    variant = EDIT_2509


class QwenImageEdit2511Adapter(FamilyAdapter):
    """Qwen-Image-Edit-2511 (QwenImageEditPlusPipeline with zero_cond_t)."""

    variant = EDIT_2511


class QwenImageEditAdapter(FamilyAdapter):
    """Qwen-Image-Edit v1 (QwenImageEditPipeline, one input image; the VAE area is applied
    through its sizing function)."""

    variant = EDIT_V1
