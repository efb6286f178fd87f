"""Qwen-Image-Layered, as data: one :class:`QwenVariant` record (the edit family's record
type), served as ``qwen-image-layered``.

It runs diffusers' ``QwenImageLayeredPipeline``: exactly one input picture, taken as opaque
RGBA, comes back as ``layers`` RGBA pictures (``layered=True``). Its text encoder,
tokenizer, processor and scheduler are the family's; its transformer and VAE differ from the
shared tiny configs as the real ones do (``transformer_overrides``, ``vae_overrides``), so
the tiny twin is the family's builder with those differences. Adding a layered member is a
record here, its entry in specs.py and its adapter line in runtime/adapter.py. No torch.

Sources (checked before encoding):

- the pipeline: diffusers 0.42.1 ``pipeline_qwenimage_layered.py``. ``__call__(image,
  prompt, negative_prompt, true_cfg_scale=4.0, layers=4, num_inference_steps=50, ...,
  resolution=640, cfg_normalize=False, use_en_prompt=False)``; ``resolution`` must be 640 or
  1024 and sizes the output as ``calculate_dimensions(resolution**2, input ratio)`` (floored
  to 16), read from the module at call time; a prompt that is None, "" or " " is replaced by
  a caption the VL text encoder writes of the picture (``get_image_caption``, English with
  ``use_en_prompt``); ``images[0]`` is the list of ``layers`` RGBA pictures (the generated
  first frame, the whole picture again, is dropped: no composite comes back). Several
  pictures per call (``num_images_per_prompt``) group the layers wrongly (slices of
  ``layers + 1``), so each job is its own call.
- the defaults and the UI: QwenLM/Qwen-Image-Layered's README (``QwenImageLayeredPipeline
  .from_pretrained("Qwen/Qwen-Image-Layered")``; true_cfg_scale 4.0, negative prompt " ",
  50 steps, layers 4, resolution 640 "recommended", cfg_normalize True, use_en_prompt True;
  Apache 2.0; released 2025.12.19) and its src/app.py (layers 2-10, steps 1-50, the prompt
  optional, the input converted ``.convert("RGB").convert("RGBA")``).
- transformer/config.json: the family's geometry (60 blocks, 24 x 128 heads,
  joint_attention_dim 3584, axes_dims_rope [16, 56, 56], no guidance embeds) plus
  ``use_additional_t_cond: true`` and ``use_layer3d_rope: true`` (the layer axis as a RoPE
  axis, an is-RGB timestep condition). DiffSynth-Studio's model registry loads the repo's
  transformer with exactly these two flags; a survey of the hub's config files lists the
  same (with zero_cond_t false); the pipeline passes ``additional_t_cond`` on every call.
- vae/config.json: the Qwen-Image VAE with ``input_channels: 4`` (the RGBA-VAE: the
  encoder's first and the decoder's last convolution take and give 4 channels; the Qwen-
  Image-Layered paper, arXiv 2512.15603; DiffSynth-Studio loads the repo's VAE with
  ``image_channels=4``; mflux's port reads it as a 4-in, 4-out VAE with Qwen-Image's
  latents_mean/latents_std).
- text encoder, tokenizer, processor: Qwen2.5-VL-7B as in Qwen-Image, and a
  ``Qwen2VLProcessor`` (model_index.json lists it; the pipeline captions with it).
- scheduler: not seen in a public copy; taken to be the family's (the pipeline passes its
  own ``mu`` and linear sigmas, so only ``shift_terminal`` and the time-shift type matter).
- no Lightning LoRA is published for it.
"""

from __future__ import annotations

from editserve.models.qwen_image_edit.variant import QwenVariant

LAYERED = QwenVariant(
    model_id="qwen-image-layered",
    hub_id="Qwen/Qwen-Image-Layered",
    display="Qwen-Image-Layered",
    pipeline_class="QwenImageLayeredPipeline",
    pipeline_module="diffusers.pipelines.qwenimage.pipeline_qwenimage_layered",
    tiny_folder_name="tiny-qwen-image-layered",
    max_images=1,
    transformer_overrides={"use_additional_t_cond": True, "use_layer3d_rope": True},
    vae_overrides={"input_channels": 4},
    lightning_steps=(),
    # The pipeline sizes its one input with the module's calculate_dimensions (read at call
    # time), as the v1 edit pipeline does: the VAE area is applied through it.
    separate_condition_copy=False,
    layered=True,
)

MEMBERS = (LAYERED,)


def member(model_id: str) -> QwenVariant | None:
    """The member record of a model id (ids only; aliases are the registry's)."""
    return next((one for one in MEMBERS if one.model_id == model_id), None)
