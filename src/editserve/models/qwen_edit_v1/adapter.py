"""The model adapter of qwen-image-edit (v1): the family's adapter with v1's variant
(QwenImageEditPipeline; the VAE area is applied through its sizing function)."""

from __future__ import annotations

from typing import ClassVar

from editserve.models.qwen_common.variant import QwenVariant
from editserve.models.qwen_edit_plus.adapter import QwenImageEditPlusAdapter
from editserve.models.qwen_edit_v1.identity import VARIANT


class QwenImageEditAdapter(QwenImageEditPlusAdapter):
    """Loads Qwen-Image-Edit (QwenImageEditPipeline, one input image) and runs edits."""

    variant: ClassVar[QwenVariant] = VARIANT
