"""The request model of qwen-image-edit-2511: 2509's (1-3 images, 40 steps, CFG 4.0, the
recommended call of the 2511 model card), under its own title."""

from __future__ import annotations

from pydantic import ConfigDict

from editserve.models.qwen_edit_plus.schema import QwenImageEditPlusParams


class QwenImageEdit2511Params(QwenImageEditPlusParams):
    """Edit 1-3 images from a text instruction (Qwen-Image-Edit-2511)."""

    model_config = ConfigDict(
        extra="forbid",
        title="qwen-image-edit-2511",
        json_schema_extra={"basic": ["prompt", "input_image", "aspect_ratio"]},
    )
