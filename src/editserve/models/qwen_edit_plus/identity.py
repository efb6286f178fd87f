"""Who qwen-image-edit-plus is: its id, its weights on the hub, its diffusers pipeline.

The one place these names are written; the spec, the adapter and the tiny-model builder
read them from here. Nothing here imports torch or diffusers.
"""

from __future__ import annotations

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
