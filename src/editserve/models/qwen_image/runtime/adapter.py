"""The adapters of the text-to-image members (diffusers' ``QwenImagePipeline``): the
family's adapter (qwen_image_edit/runtime/adapter.py), one subclass per member naming its
record. Loading (device, dtype, tiny/local/hub weights, the Lightning preset and the other
options, warm-up), the pipeline call (step callback and cancellation, one generator per
image from the job's seed, timings), request LoRAs and receipts are all the family's: a
member with ``max_images=0`` is called without ``image`` and warmed up without a picture.

Lives only in worker processes; torch and diffusers are imported inside the functions.
"""

from __future__ import annotations

from editserve.models.qwen_image.members import QWEN_IMAGE, QWEN_IMAGE_2512
from editserve.models.qwen_image_edit.runtime.adapter import FamilyAdapter

__all__ = ["QwenImage2512Adapter", "QwenImageAdapter"]


class QwenImageAdapter(FamilyAdapter):
    """Qwen-Image (QwenImagePipeline, a prompt alone)."""

    variant = QWEN_IMAGE


class QwenImage2512Adapter(FamilyAdapter):
    """Qwen-Image-2512 (QwenImagePipeline, a prompt alone)."""

    variant = QWEN_IMAGE_2512
