"""The registry entry of qwen-image-edit-2511."""

from __future__ import annotations

from typing import Any

from editserve.models.qwen_edit_2511.identity import HUB_ID, VARIANT
from editserve.models.qwen_edit_2511.schema import QwenImageEdit2511Params
from editserve.models.qwen_edit_plus.family import family_card, family_spec

CARD: dict[str, Any] = family_card(
    VARIANT,
    created=1766448000,  # 2025-12-23, the release of Qwen-Image-Edit-2511
    display_name="Qwen Image Edit - 2511",
    summary="Multi-image editing with stronger identity consistency",
    description=(
        "Qwen-Image-Edit-2511 is the 20B parameter successor of Qwen-Image-Edit-2509, with "
        "the same 1-3 image interface. It keeps people and characters more consistent "
        "across edits (including group shots of several people), drifts less from the "
        "input image, renders text in English and Chinese, and brings popular community "
        "LoRA effects such as relighting and new viewpoints into the base model."
    ),
    released_at="2025-12-23T00:00:00Z",
)

SPEC = family_spec(
    VARIANT,
    aliases=(HUB_ID,),
    card=CARD,
    params_model=QwenImageEdit2511Params,
    adapter_path="editserve.models.qwen_edit_2511.adapter:QwenImageEdit2511Adapter",
)
