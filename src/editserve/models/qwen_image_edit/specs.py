"""The registry entry of qwen-image-edit-plus (Qwen-Image-Edit-2509): card, schema,
sizing, jobs and adapter, built by family.py like every family member's."""

from __future__ import annotations

from typing import Any

from editserve.models.qwen_edit_plus.family import family_card, family_spec, tiny_warning
from editserve.models.qwen_edit_plus.identity import HUB_ID, VARIANT
from editserve.models.qwen_edit_plus.schema import QwenImageEditPlusParams
from editserve.models.qwen_edit_plus.sizing_plan import check_inputs_fit, exact_size, plan_size

__all__ = ["CARD", "SPEC", "TINY_WARNING", "check_inputs_fit", "exact_size", "plan_size"]

TINY_WARNING = tiny_warning(VARIANT)

CARD: dict[str, Any] = family_card(
    VARIANT,
    created=1758499200,  # 2025-09-22, the release of Qwen-Image-Edit-2509
    display_name="Qwen Image Edit - 2509",
    summary="Multi-image natural-language editing",
    description=(
        "Qwen-Image-Edit-2509 is a 20B parameter image editing model designed for complex "
        "image editing, with particular strengths in multi-image manipulation (person + "
        "person, person + product, person + scene) and high-fidelity text and style "
        "preservation. It edits 1-3 input images from an English or Chinese instruction, "
        "including rendering and editing text inside the image, and accepts control maps "
        "(depth, edge, keypoint/pose, sketch) as ordinary input images."
    ),
    released_at="2025-09-22T00:00:00Z",
)

SPEC = family_spec(
    VARIANT,
    aliases=("qwen-image-edit-2509", HUB_ID),
    card=CARD,
    params_model=QwenImageEditPlusParams,
    adapter_path="editserve.models.qwen_edit_plus.adapter:QwenImageEditPlusAdapter",
)
