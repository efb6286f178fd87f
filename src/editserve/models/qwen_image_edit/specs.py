"""The family's registry entries, one per member: its card text, aliases, request model and
adapter, built by family.py the one way (sizing, jobs, options, weights sources and memory
figures are the family's; what differs lives in the member record and the request model)."""

from __future__ import annotations

from editserve.models.qwen_image_edit.family import family_card, family_spec
from editserve.models.qwen_image_edit.members import EDIT_2509, EDIT_2511, EDIT_V1
from editserve.models.qwen_image_edit.request.schema import (
    QwenImageEdit2511Params,
    QwenImageEditParams,
    QwenImageEditPlusParams,
)

ADAPTERS = "editserve.models.qwen_image_edit.runtime.adapter"

SPEC_2509 = family_spec(
    EDIT_2509,
    aliases=("qwen-image-edit-2509", EDIT_2509.hub_id),
    card=family_card(
        EDIT_2509,
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
    ),
    params_model=QwenImageEditPlusParams,
    adapter_path=f"{ADAPTERS}:QwenImageEditPlusAdapter",
)

SPEC_2511 = family_spec(
    EDIT_2511,
    aliases=(EDIT_2511.hub_id,),
    card=family_card(
        EDIT_2511,
        created=1766448000,  # 2025-12-23, the release of Qwen-Image-Edit-2511
        display_name="Qwen Image Edit - 2511",
        summary="Multi-image editing with stronger identity consistency",
        description=(
            "Qwen-Image-Edit-2511 is the 20B parameter successor of Qwen-Image-Edit-2509, "
            "with the same 1-3 image interface. It keeps people and characters more "
            "consistent across edits (including group shots of several people), drifts less "
            "from the input image, renders text in English and Chinese, and brings popular "
            "community LoRA effects such as relighting and new viewpoints into the base model."
        ),
        released_at="2025-12-23T00:00:00Z",
    ),
    params_model=QwenImageEdit2511Params,
    adapter_path=f"{ADAPTERS}:QwenImageEdit2511Adapter",
)

SPEC_V1 = family_spec(
    EDIT_V1,
    aliases=(EDIT_V1.hub_id,),
    card=family_card(
        EDIT_V1,
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
    ),
    params_model=QwenImageEditParams,
    adapter_path=f"{ADAPTERS}:QwenImageEditAdapter",
)

# In the order the registry lists them (the first is the registry's default).
SPECS = (SPEC_2509, SPEC_2511, SPEC_V1)
