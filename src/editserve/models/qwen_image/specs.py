"""The text-to-image members' registry entries (``kind="generate"``): card text, aliases,
request model, sizing and adapter, built by the family's one builder
(qwen_image_edit/family.py: jobs, options and Lightning presets, weights sources, LoRA
checks and memory figures are the family's). No torch."""

from __future__ import annotations

from editserve.models.qwen_image.members import QWEN_IMAGE, QWEN_IMAGE_2512
from editserve.models.qwen_image.request.schema import QwenImage2512Params, QwenImageParams
from editserve.models.qwen_image.request.sizing import plan_size
from editserve.models.qwen_image_edit.family import family_card, family_spec

ADAPTERS = "editserve.models.qwen_image.runtime.adapter"

SPEC_QWEN_IMAGE = family_spec(
    QWEN_IMAGE,
    aliases=(QWEN_IMAGE.hub_id,),
    card=family_card(
        QWEN_IMAGE,
        created=1754265600,  # 2025-08-04, the release of Qwen-Image
        display_name="Qwen Image",
        summary="Text-to-image with strong text rendering",
        description=(
            "Qwen-Image is a 20B parameter MMDiT image generation model from Alibaba's Qwen "
            "team. It excels at complex text rendering inside the picture, in alphabetic and "
            "logographic scripts alike (English and Chinese: signs, posters, slides, "
            "multi-line layouts), and follows long prompts across photorealistic, "
            "illustrated and graphic styles. It makes a picture from a prompt alone, natively "
            "at about 1.6 MP in seven aspect ratios."
        ),
        released_at="2025-08-04T00:00:00Z",
    ),
    params_model=QwenImageParams,
    adapter_path=f"{ADAPTERS}:QwenImageAdapter",
    kind="generate",
    sizer=plan_size,
)

SPEC_QWEN_IMAGE_2512 = family_spec(
    QWEN_IMAGE_2512,
    aliases=(QWEN_IMAGE_2512.hub_id,),
    card=family_card(
        QWEN_IMAGE_2512,
        created=1767139200,  # 2025-12-31, the release of Qwen-Image-2512
        display_name="Qwen Image - 2512",
        summary="Text-to-image with more realistic people and finer detail",
        description=(
            "Qwen-Image-2512 is the December 2025 update of the 20B parameter Qwen-Image "
            "text-to-image model, with the same architecture and interface. People look "
            "markedly more realistic (faces, age, hair), natural textures such as water, "
            "foliage and fur are finer, and text rendering is more accurate and better laid "
            "out, in English and Chinese."
        ),
        released_at="2025-12-31T00:00:00Z",
    ),
    params_model=QwenImage2512Params,
    adapter_path=f"{ADAPTERS}:QwenImage2512Adapter",
    kind="generate",
    sizer=plan_size,
)

# In the order the registry lists them (after the edit family).
SPECS = (SPEC_QWEN_IMAGE, SPEC_QWEN_IMAGE_2512)
