"""The model adapter of qwen-image-edit-2511: the family's adapter with 2511's variant."""

from __future__ import annotations

from typing import ClassVar

from editserve.models.qwen_common.variant import QwenVariant
from editserve.models.qwen_edit_2511.identity import VARIANT
from editserve.models.qwen_edit_plus.adapter import QwenImageEditPlusAdapter


class QwenImageEdit2511Adapter(QwenImageEditPlusAdapter):
    """Loads Qwen-Image-Edit-2511 (QwenImageEditPlusPipeline, zero_cond_t) and runs edits."""

    variant: ClassVar[QwenVariant] = VARIANT
