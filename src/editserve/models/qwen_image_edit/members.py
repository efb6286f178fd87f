"""Who qwen-image-edit-plus is: its id, its weights on the hub, its diffusers pipeline.

The one place these names are written; the spec, the adapter and the tiny-model builder
read them from here. Nothing here imports torch or diffusers.
"""

from __future__ import annotations

from editserve.models.qwen_common.variant import QwenVariant

MODEL_ID = "qwen-image-edit-plus"
HUB_ID = "Qwen/Qwen-Image-Edit-2509"

PIPELINE_CLASS = "QwenImageEditPlusPipeline"
# The module whose constants (VAE_IMAGE_SIZE, ...) the pipeline reads at call time.
PIPELINE_MODULE = "diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus"
# The sub-folders (and model_index.json entries) of a saved pipeline.
COMPONENTS = ("transformer", "vae", "text_encoder", "tokenizer", "processor", "scheduler")

# The tiny random-weight model of the same architecture (see tiny.py).
TINY_SOURCE = "tiny-random"
TINY_FOLDER_NAME = "tiny-qwen-image-edit-plus"

# Sources: huggingface.co/Qwen/Qwen-Image-Edit-2509 (model_index.json: QwenImageEditPlusPipeline;
# transformer/config.json has no zero_cond_t) and lightx2v/Qwen-Image-Lightning's
# Qwen-Image-Edit-2509/ folder (the 2509 Lightning LoRAs, 4 and 8 steps, bf16 and fp32).
VARIANT = QwenVariant(
    model_id=MODEL_ID,
    hub_id=HUB_ID,
    display="Qwen-Image-Edit-2509",
    pipeline_class=PIPELINE_CLASS,
    pipeline_module=PIPELINE_MODULE,
    tiny_folder_name=TINY_FOLDER_NAME,
    max_images=3,
    lightning_repo="lightx2v/Qwen-Image-Lightning",
    lightning_files={
        precision: "Qwen-Image-Edit-2509/Qwen-Image-Edit-2509-Lightning-{steps}steps-V1.0-"
        f"{precision}.safetensors"
        for precision in ("bf16", "fp32")
    },
)
