"""A masked edit inside one pipeline call: the arithmetic of diffusers'
``QwenImageEditInpaintPipeline`` (strength 1.0), done around the edit pipelines.

The 2509/2511 pipeline (``QwenImageEditPlusPipeline``) has no inpaint sibling, so the
inpainting is done from outside, the same way for every member:

1. ``prepare_latents`` is wrapped for the call: it gives the starting noise and the VAE
   latents of the input pictures; Picture 1's are the first ones. The pipeline runs at
   Picture 1's VAE-copy size (its aspect at the job's VAE area), so those latents lie on
   the output's latent grid as they are: no extra VAE encode.
2. The mask is processed as the inpaint pipeline's ``mask_processor`` does (grayscale,
   resized to the pipeline's size, binarized at 0.5), brought to the latent grid with
   nearest interpolation and packed like the latents.
3. After every scheduler step (``callback_on_step_end``), the latents outside the mask are
   replaced by Picture 1's latents re-noised to the next timestep
   (``scheduler.scale_noise(image_latents, t_next, noise)``; the clean latents after the last
   step): ``latents = (1 - mask) * init_latents_proper + mask * latents``.
4. The decoded output is composited over Picture 1 at Picture 1's size (mask_paste.py), so
   outside the mask (beyond the feather) the output is Picture 1's own pixels.

torch and diffusers are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from PIL import Image

from editserve.models.base import EditJob
from editserve.models.qwen_image_edit.request.sizing import pipeline_dimensions
from editserve.models.qwen_image_edit.runtime.mask_paste import feathered_alpha, paste_back
from editserve.models.qwen_image_edit.variant import QwenVariant

StepEnd = Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]]


class MaskedCall:
    """The masked edit of one pipeline call (one job, or a batch differing in seed)."""

    def __init__(self, picture: Image.Image, mask: Image.Image, feather: int, area: int) -> None:
        self.picture = picture
        self.mask = mask
        self.feather = feather
        # the pipeline's size: Picture 1's VAE copy (the pipeline's calculate_dimensions)
        self.size = pipeline_dimensions(area, picture.size[0] / picture.size[1])
        self.noise: Any = None
        self.image_latents: Any = None
        self.mask_latents: Any = None

    @classmethod
    def of(cls, jobs: list[EditJob], images: list[Any], variant: QwenVariant) -> MaskedCall | None:
        """The masked edit of `jobs`, or None (no mask); ValueError for a mask the job
        cannot take."""
        job = jobs[0]
        if job.mask is None:
            return None
        if variant.layered or not variant.takes_images:
            raise ValueError(f"{variant.model_id} takes no mask")
        picture = images[0]
        if job.mask.size != picture.size or (job.width, job.height) != picture.size:
            raise ValueError(
                f"a masked edit's mask ({job.mask.size[0]}x{job.mask.size[1]}) and output "
                f"({job.width}x{job.height}) have Picture 1's size "
                f"({picture.size[0]}x{picture.size[1]})"
            )
        if any(other.mask is not job.mask and other.mask != job.mask for other in jobs[1:]):
            raise ValueError("jobs of one batch must share their mask")
        return cls(picture, job.mask.convert("L"), int(job.mask_feather), int(job.vae_area))

    @contextmanager
    def installed(self, pipe: Any) -> Iterator[None]:
        """Wrap the pipeline's ``prepare_latents`` for one call: it records the starting
        noise and Picture 1's latents, and prepares the mask on the latent grid."""
        original = pipe.prepare_latents

        def prepare_latents(*args: Any, **kwargs: Any) -> Any:
            latents, image_latents = original(*args, **kwargs)
            self.start(pipe, latents, image_latents)
            return latents, image_latents

        pipe.prepare_latents = prepare_latents
        try:
            yield
        finally:
            del pipe.prepare_latents  # the class's own method again

    def start(self, pipe: Any, latents: Any, image_latents: Any) -> None:
        """Keep the noise and Picture 1's latents (the first tokens of the pictures')."""
        tokens = latents.shape[1]
        picture_latents = image_latents[:, :tokens]
        if picture_latents.shape != latents.shape:
            raise RuntimeError(
                f"Picture 1's latents {tuple(picture_latents.shape)} are not on the output's "
                f"latent grid {tuple(latents.shape)}"
            )
        self.noise = latents.clone()
        self.image_latents = picture_latents
        self.mask_latents = latent_mask(pipe, self.mask, self.size, latents)

    def step_end(self, inner: StepEnd) -> StepEnd:
        """The step callback: blend the latents, then `inner` (the call's clock)."""

        def blend(pipe: Any, i: int, t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            blended = self.blend(pipe.scheduler, i, kwargs["latents"])
            return {**inner(pipe, i, t, kwargs), "latents": blended}

        return blend

    def blend(self, scheduler: Any, i: int, latents: Any) -> Any:
        """Step `i`'s latents with those outside the mask set to Picture 1's, re-noised to
        the next timestep (clean after the last step)."""
        timesteps = scheduler.timesteps
        proper = self.image_latents
        if i < len(timesteps) - 1:
            proper = scheduler.scale_noise(proper, timesteps[i + 1 : i + 2], self.noise)
        mask = self.mask_latents
        return (1 - mask) * proper + mask * latents

    def paste_back(self, outputs: list[Any]) -> list[Any]:
        """Each output at Picture 1's size, composited over it through the feathered mask."""
        alpha = feathered_alpha(self.mask, self.feather)
        return [paste_back(output, self.picture, alpha) for output in outputs]


def latent_mask(pipe: Any, mask: Image.Image, size: tuple[int, int], latents: Any) -> Any:
    """`mask` on the packed latent grid of `latents` (the inpaint pipeline's
    ``mask_processor`` and ``prepare_mask_latents``): 1 = edit, 0 = keep."""
    import torch
    from diffusers.image_processor import VaeImageProcessor

    processor = VaeImageProcessor(
        vae_scale_factor=pipe.vae_scale_factor * 2,
        vae_latent_channels=pipe.latent_channels,
        do_normalize=False,
        do_binarize=True,
        do_convert_grayscale=True,
    )
    width, height = size
    condition = processor.preprocess(mask, height=height, width=width)
    grid = 2 * (height // (pipe.vae_scale_factor * 2)), 2 * (width // (pipe.vae_scale_factor * 2))
    small = torch.nn.functional.interpolate(condition, size=grid)
    small = small.to(device=latents.device, dtype=latents.dtype)
    channels = latents.shape[-1] // 4
    packed = pipe._pack_latents(small.repeat(1, channels, 1, 1), 1, channels, *grid)
    return packed.expand(latents.shape[0], -1, -1)
