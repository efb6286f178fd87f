"""The adapter of qwen-image-layered (diffusers' ``QwenImageLayeredPipeline``): the Qwen-Image
family's adapter (qwen_image_edit/runtime/adapter.py) naming its record. Loading, options,
warm-up, the pipeline call, request LoRAs and receipts are the family's; a ``layered``
member's call takes its one input as RGBA and the job's ``layers``/``resolution``... and
gives each job's RGBA layers in ``EditResult.layers`` (the first is ``image``).

One job per call: the pipeline groups the layers of several pictures per call wrongly
(members.py), so generations of one request run one after another.

Lives only in worker processes; torch and diffusers are imported inside the functions.
"""

from __future__ import annotations

from typing import ClassVar

from editserve.models.qwen_image_edit.runtime.adapter import FamilyAdapter
from editserve.models.qwen_image_layered.members import LAYERED

__all__ = ["QwenImageLayeredAdapter"]


class QwenImageLayeredAdapter(FamilyAdapter):
    """Qwen-Image-Layered (QwenImageLayeredPipeline, one picture in, RGBA layers out)."""

    supports_batch: ClassVar[bool] = False
    variant = LAYERED
