"""One member of the Qwen-Image family, as data: the ids, the diffusers pipeline, how its
real transformer config differs, where its Lightning LoRAs live, how many inputs it takes.

members.py writes one of these per edit member (models/qwen_image/members.py one per
text-to-image member: ``max_images=0``, no processor; models/qwen_image_layered/members.py
the layered one: ``layered=True``, an RGBA VAE); the family's code (weights, loading, the
tiny twin, the pipeline call, options) takes one as an argument, never a default.
Nothing here imports torch or diffusers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# What every member shares.
# The sub-folders (and model_index.json entries) of a saved edit pipeline; the text-to-image
# pipeline (QwenImagePipeline) has no processor (TEXT_TO_IMAGE_COMPONENTS).
COMPONENTS = ("transformer", "vae", "text_encoder", "tokenizer", "processor", "scheduler")
TEXT_TO_IMAGE_COMPONENTS = tuple(name for name in COMPONENTS if name != "processor")
# The weights source recorded for the tiny random-weight twins (tiny/build.py).
TINY_SOURCE = "tiny-random"


@dataclass(frozen=True)
class QwenVariant:
    model_id: str  # the id requests name, e.g. "qwen-image-edit-2511"
    hub_id: str  # the real weights on the Hugging Face Hub
    display: str  # the release's name, e.g. "Qwen-Image-Edit-2511" (messages, markers)
    pipeline_class: str  # the diffusers pipeline class, e.g. "QwenImageEditPlusPipeline"
    # The module whose constants/functions the pipeline reads at call time.
    pipeline_module: str
    # Where the tiny twin is built (under data_dir/models/).
    tiny_folder_name: str
    # How many input pictures a request takes at most; 0: a text-to-image model (no
    # ``image`` argument, no VAE copies of inputs).
    max_images: int
    # How the real transformer/config.json differs from the shared tiny config (the tiny
    # twin applies these): e.g. {"zero_cond_t": True} for 2511.
    transformer_overrides: Mapping[str, Any] = field(default_factory=dict)
    # How the real vae/config.json differs from the shared tiny one, e.g. the layered
    # model's RGBA VAE: {"input_channels": 4}.
    vae_overrides: Mapping[str, Any] = field(default_factory=dict)
    # The step-distilled Lightning LoRAs: the hub repo and, per precision ("bf16" |
    # "fp32"), the file name with a {steps} placeholder.
    lightning_repo: str = ""
    lightning_files: Mapping[str, str] = field(default_factory=dict)
    # The step counts a Lightning LoRA is published for (EDITSERVE_LIGHTNING=4 / 8).
    lightning_steps: tuple[int, ...] = (4, 8)
    # True when the pipeline sizes the VAE copy of each input by a module constant
    # (VAE_IMAGE_SIZE, the Plus pipeline) and the vision-language copy separately at
    # 384x384; False when it resizes the one input to ~1 MP for both (the v1 pipeline).
    separate_condition_copy: bool = True
    # The saved pipeline's sub-folders (model_index.json entries).
    components: tuple[str, ...] = COMPONENTS
    # A layered member (QwenImageLayeredPipeline): its one input goes in as RGBA, the call
    # takes the job's pipeline arguments (``layers``, ``resolution``...) instead of a
    # height and width (the size follows the input, sized at the job's VAE area), and each
    # output is a list of RGBA layers.
    layered: bool = False

    def lightning_file(self, steps: int, precision: str) -> str:
        pattern = self.lightning_files.get(precision) or self.lightning_files["bf16"]
        return pattern.format(steps=steps)

    @property
    def takes_images(self) -> bool:
        """An edit model (input pictures), not a text-to-image one."""
        return self.max_images > 0
