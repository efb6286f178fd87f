"""The text-to-image members of the Qwen-Image family, as data: one :class:`QwenVariant`
record each (the edit family's record type: ids, hub repo, pipeline, Lightning files).

Both run diffusers' ``QwenImagePipeline``: no input pictures (``max_images=0``) and no
processor among the saved components. Their transformer, text encoder, VAE and scheduler
have the edit members' architecture and configs (no ``transformer_overrides``), so the tiny
twins share every component but the pipeline class with the edit twins. Adding a member is
a record here, its entry in specs.py, its adapter line in runtime/adapter.py. No torch.
"""

from __future__ import annotations

from editserve.models.qwen_image_edit.variant import TEXT_TO_IMAGE_COMPONENTS, QwenVariant

PIPELINE_MODULE = "diffusers.pipelines.qwenimage.pipeline_qwenimage"

# Qwen-Image (August 2025), served as qwen-image.
# Sources: QwenLM/Qwen-Image's README (``QwenImagePipeline`` / ``DiffusionPipeline``
# .from_pretrained("Qwen/Qwen-Image"), Apache 2.0); its transformer/VAE/scheduler configs are
# the edit family's (public copies of the repo's config files: 60 layers, 24 x 128 heads,
# joint_attention_dim 3584, axes_dims_rope [16, 56, 56], no zero_cond_t; scheduler
# shift_terminal 0.02, exponential dynamic shift 0.5-0.9). Lightning:
# ModelTC/Qwen-Image-Lightning's README (lightx2v/Qwen-Image-Lightning, at the repo's root,
# Qwen-Image-Lightning-{4,8}steps-V2.0.safetensors and their -bf16 copies, the latest
# text-to-image release; V2.0 reduces V1.x's over-saturation).
QWEN_IMAGE = QwenVariant(
    model_id="qwen-image",
    hub_id="Qwen/Qwen-Image",
    display="Qwen-Image",
    pipeline_class="QwenImagePipeline",
    pipeline_module=PIPELINE_MODULE,
    tiny_folder_name="tiny-qwen-image",
    max_images=0,
    lightning_repo="lightx2v/Qwen-Image-Lightning",
    lightning_files={
        "bf16": "Qwen-Image-Lightning-{steps}steps-V2.0-bf16.safetensors",
        "fp32": "Qwen-Image-Lightning-{steps}steps-V2.0.safetensors",
    },
    components=TEXT_TO_IMAGE_COMPONENTS,
)

# Qwen-Image-2512 (December 2025): the same pipeline and architecture, new weights (more
# realistic people, finer textures, better text rendering).
# Sources: QwenLM/Qwen-Image's README (2025.12.31 release; ``QwenImagePipeline.from_pretrained
# ("Qwen/Qwen-Image-2512")``, 50 steps, true_cfg_scale 4.0); a public reference of the repo's
# config files (diffusers 0.36: the transformer, VAE and scheduler configs equal Qwen-Image's).
# Lightning: ModelTC/Qwen-Image-Lightning's README (2026-01-01: lightx2v/Qwen-Image-2512-
# Lightning, Qwen-Image-2512-Lightning-4steps-V1.0-{fp32,bf16}.safetensors; 4 steps only).
QWEN_IMAGE_2512 = QwenVariant(
    model_id="qwen-image-2512",
    hub_id="Qwen/Qwen-Image-2512",
    display="Qwen-Image-2512",
    pipeline_class="QwenImagePipeline",
    pipeline_module=PIPELINE_MODULE,
    tiny_folder_name="tiny-qwen-image-2512",
    max_images=0,
    lightning_repo="lightx2v/Qwen-Image-2512-Lightning",
    lightning_files={
        precision: f"Qwen-Image-2512-Lightning-{{steps}}steps-V1.0-{precision}.safetensors"
        for precision in ("bf16", "fp32")
    },
    lightning_steps=(4,),
    components=TEXT_TO_IMAGE_COMPONENTS,
)

MEMBERS = (QWEN_IMAGE, QWEN_IMAGE_2512)


def member(model_id: str) -> QwenVariant | None:
    """The member record of a model id (ids only; aliases are the registry's)."""
    return next((one for one in MEMBERS if one.model_id == model_id), None)
