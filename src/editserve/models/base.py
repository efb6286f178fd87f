"""What the worker hands to a model adapter, and what it gets back.

The worker process owns the claim loop; an adapter owns a diffusers pipeline. They meet
only through these small types, so the adapter can be tested without a queue and the
worker without a model. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from PIL import Image


class GenerationCancelled(Exception):
    """Raised from a step callback to stop the denoising loop at once."""


# Called after every denoising step with (step_done, total_steps). It may raise
# GenerationCancelled to stop the run.
StepCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class EditJob:
    """One output image to make: validated parameters plus decoded RGB inputs."""

    prompt: str
    images: list[Image.Image]
    width: int
    height: int
    seed: int
    negative_prompt: str = " "
    num_inference_steps: int = 40
    true_cfg_scale: float = 4.0
    # Target area (pixels) used to size the VAE's copy of each input image; the
    # pipeline's own default is 1024*1024. Lowered for previews (and fast tests).
    vae_area: int = 1024 * 1024
    # LoRAs applied to this job only: (path as the request named it, scale) pairs; the
    # adapter finds each file (see the model folder's loras.py).
    loras: tuple[tuple[str, float], ...] = ()
    # The model's own pipeline arguments for this job, as (name, value) pairs: e.g. a
    # layered model's ``layers`` and ``resolution``. Empty for the other models.
    pipeline_args: tuple[tuple[str, Any], ...] = ()
    # A masked edit: the region of images[0] to change (mode "L", images[0]'s size, 255 =
    # edit, 0 = keep) and the seam's width in pixels; the output has images[0]'s size.
    mask: Image.Image | None = None
    mask_feather: int = 0


@dataclass
class EditResult:
    """What one job made. ``image`` is the picture; a model that makes several pictures
    of one job (a layered model's RGBA layers) lists them all in ``layers``, in order, the
    first being ``image`` too. One-picture models leave ``layers`` empty."""

    image: Image.Image
    timings: dict[str, float] = field(default_factory=dict)
    receipt: dict[str, Any] = field(default_factory=dict)
    layers: list[Image.Image] = field(default_factory=list)

    @property
    def outputs(self) -> list[Image.Image]:
        """Every picture of the job, in order: the layers, or the one image."""
        return list(self.layers) if self.layers else [self.image]


@dataclass(frozen=True)
class LoadedWeights:
    """What is actually loaded, for the model card, /readyz and receipts."""

    source: str  # hub id, folder path, or "tiny-random"
    revision: str | None
    is_tiny: bool
    device: str
    dtype: str
    details: dict[str, Any] = field(default_factory=dict)


class ModelAdapter(Protocol):
    """One per model family. Lives only in worker processes.

    ``supports_batch``: whether ``generate_batch`` runs jobs that differ only in their
    seed as one pipeline call (the worker then claims a request's siblings together).
    """

    supports_batch: ClassVar[bool]

    def load(self) -> LoadedWeights:
        """Load (and warm) the pipeline. Raise ModelLoadError with a clear message."""
        ...

    def generate(self, job: EditJob, on_step: StepCallback) -> EditResult:
        """Run one edit. Must call on_step after every denoising step."""
        ...

    def generate_batch(self, jobs: list[EditJob], on_step: StepCallback) -> list[EditResult]:
        """Run jobs that differ only in their seed together (only if supports_batch)."""
        ...


class JobRefused(Exception):
    """This job cannot run as asked (e.g. a LoRA that does not fit the model). The message
    is worded for the caller and becomes the generation's error; the worker goes on."""


class ModelLoadError(Exception):
    """The weights could not be loaded; the message says what to change."""
