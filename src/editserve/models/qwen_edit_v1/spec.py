"""The registry entry of qwen-image-edit (v1)."""

from __future__ import annotations

from typing import Any

from editserve.models.qwen_edit_plus.family import family_card, family_spec
from editserve.models.qwen_edit_v1.identity import HUB_ID, VARIANT
from editserve.models.qwen_edit_v1.schema import QwenImageEditParams

CARD: dict[str, Any] = family_card(
    VARIANT,
    created=1755561600,  # 2025-08-19, the release of Qwen-Image-Edit
    display_name="Qwen Image Edit",
    summary="Single-image natural-language editing",
    description=(
        "Qwen-Image-Edit is the first 20B parameter editing model of the Qwen-Image "
        "family. It edits one input image from an English or Chinese instruction, both "
        "semantically (new viewpoints, style transfer, characters kept recognisable) and "
        "in appearance (adding, removing or changing elements while the rest stays "
        "untouched), and edits text inside the image precisely."
    ),
    released_at="2025-08-19T00:00:00Z",
)

SPEC = family_spec(
    VARIANT,
    aliases=(HUB_ID,),
    card=CARD,
    params_model=QwenImageEditParams,
    adapter_path="editserve.models.qwen_edit_v1.adapter:QwenImageEditAdapter",
)
