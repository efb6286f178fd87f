"""qwen-image-layered's registry entry: card text, aliases, request model, sizing and
adapter, built by the Qwen-Image family's one builder (qwen_image_edit/family.py: jobs,
options, weights sources, LoRA checks and memory figures are the family's). The request's
``layers``, ``resolution``, ``cfg_normalize`` and ``use_en_prompt`` go to the pipeline call
as they are. No torch."""

from __future__ import annotations

from editserve.models.qwen_image_edit.family import family_card, family_spec
from editserve.models.qwen_image_layered.members import LAYERED
from editserve.models.qwen_image_layered.request.schema import QwenImageLayeredParams
from editserve.models.qwen_image_layered.request.sizing import plan_size

ADAPTERS = "editserve.models.qwen_image_layered.runtime.adapter"
PIPELINE_ARGS = ("layers", "resolution", "cfg_normalize", "use_en_prompt")

SPEC_LAYERED = family_spec(
    LAYERED,
    aliases=(LAYERED.hub_id,),
    card=family_card(
        LAYERED,
        created=1766102400,  # 2025-12-19, the release of Qwen-Image-Layered
        display_name="Qwen Image Layered",
        summary="Splits a picture into editable RGBA layers",
        description=(
            "Qwen-Image-Layered is a 20B parameter model of the Qwen-Image family that "
            "decomposes one picture into 2-10 semantically separate RGBA layers "
            "(background, objects, text...), each with its own transparency. Each layer can "
            "then be recoloured, moved, resized, replaced or deleted without touching the "
            "others, and stacked in order they recreate the picture. It captions the picture "
            "itself when no prompt is given."
        ),
        released_at="2025-12-19T00:00:00Z",
    ),
    params_model=QwenImageLayeredParams,
    adapter_path=f"{ADAPTERS}:QwenImageLayeredAdapter",
    sizer=plan_size,
    pipeline_args=PIPELINE_ARGS,
)

# In the order the registry lists them (after the edit family, before text-to-image).
SPECS = (SPEC_LAYERED,)
