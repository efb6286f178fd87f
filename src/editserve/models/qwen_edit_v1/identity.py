"""Who qwen-image-edit is: the first Qwen-Image-Edit (v1), diffusers' ``QwenImageEditPipeline``
with exactly one input image.

Sources (checked before encoding): diffusers 0.42.1 ``pipeline_qwenimage_edit.py`` (one
image, resized to ~1 MP by ``calculate_dimensions(1024 * 1024, ratio)`` for the VAE and the
vision-language encoder alike; ``num_inference_steps=50``, ``true_cfg_scale=4.0`` and the
example loading ``Qwen/Qwen-Image-Edit``); its transformer config is the base Qwen-Image one
(no ``zero_cond_t``). Lightning LoRAs: ``lightx2v/Qwen-Image-Lightning`` at the repo's root,
``Qwen-Image-Edit-Lightning-{4,8}steps-V1.0.safetensors`` (fp32) and ``...-bf16.safetensors``
(ModelTC/Qwen-Image-Lightning's release notes). No torch here.
"""

from __future__ import annotations

from editserve.models.qwen_common.variant import QwenVariant

MODEL_ID = "qwen-image-edit"
HUB_ID = "Qwen/Qwen-Image-Edit"

VARIANT = QwenVariant(
    model_id=MODEL_ID,
    hub_id=HUB_ID,
    display="Qwen-Image-Edit",
    pipeline_class="QwenImageEditPipeline",
    pipeline_module="diffusers.pipelines.qwenimage.pipeline_qwenimage_edit",
    tiny_folder_name="tiny-qwen-image-edit",
    max_images=1,
    lightning_repo="lightx2v/Qwen-Image-Lightning",
    lightning_files={
        "bf16": "Qwen-Image-Edit-Lightning-{steps}steps-V1.0-bf16.safetensors",
        "fp32": "Qwen-Image-Edit-Lightning-{steps}steps-V1.0.safetensors",
    },
    separate_condition_copy=False,
)
