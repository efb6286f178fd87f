"""Encodings shared by the pipeline calls of one sweep (worker/sweep.py): the prompt's
(text encoder) and the input pictures' (VAE encode), computed once, reused by every call.

The pipelines compute both through two methods, which are wrapped on the pipeline object
for the sweep's calls (the same way mask_blend.py wraps ``prepare_latents``):

- ``_get_qwen_prompt_embeds(prompt, image, device)``: the text encoder over the prompt and
  the condition copies of the pictures, for one prompt (``encode_prompt`` repeats the
  result per image and drops an all-ones mask: that stays the pipeline's). The negative
  prompt of true CFG goes through it too, under its own key.
- ``_encode_vae_image(image, generator)``: the VAE's latents of one preprocessed picture.
  The pipelines take the latent mode (``sample_mode="argmax"``): the generator draws
  nothing, so the latents do not depend on the seed.

Each result is kept under a key of its inputs' content (strings as they are, pictures and
tensors by a digest of their bytes, with their sizes, dtype and device), so a call whose
inputs differ encodes anew: the cache can only save work, never change an answer. LoRAs
(lora_apply.py) act on the transformer alone, so they change neither encoding.

torch is imported by the pipeline, never here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

WRAPPED = ("_get_qwen_prompt_embeds", "_encode_vae_image")


@dataclass
class EncodeCache:
    """What one sweep's calls encoded, and how often each encoder really ran."""

    entries: dict[tuple[str, Any], Any] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)  # method → times it ran
    reused: dict[str, int] = field(default_factory=dict)  # method → times it was reused

    @contextmanager
    def installed(self, pipe: Any) -> Iterator[EncodeCache]:
        """Wrap the pipeline's encode methods (those it has) while the block runs."""
        wrapped = [name for name in WRAPPED if callable(getattr(pipe, name, None))]
        for name in wrapped:
            setattr(pipe, name, self._wrap(name, getattr(pipe, name)))
        try:
            yield self
        finally:
            for name in wrapped:
                if name in vars(pipe):
                    delattr(pipe, name)  # the class's own method again

    def _wrap(self, name: str, method: Any) -> Any:
        def cached(*args: Any, **kwargs: Any) -> Any:
            ignored = ("generator",) if name == "_encode_vae_image" else ()
            key = (name, content_key((args, {k: v for k, v in kwargs.items() if k not in ignored})))
            if key in self.entries:
                self.reused[name] = self.reused.get(name, 0) + 1
                return self.entries[key]
            self.runs[name] = self.runs.get(name, 0) + 1
            result = self.entries[key] = method(*args, **kwargs)
            return result

        return cached

    def receipt(self) -> dict[str, int]:
        """What the sweep so far encoded and reused (the receipts record it)."""
        return {
            "prompt_encodes": self.runs.get("_get_qwen_prompt_embeds", 0),
            "prompt_reuses": self.reused.get("_get_qwen_prompt_embeds", 0),
            "picture_encodes": self.runs.get("_encode_vae_image", 0),
            "picture_reuses": self.reused.get("_encode_vae_image", 0),
        }


def content_key(value: Any) -> Any:
    """A hashable key of `value`'s content: strings and numbers as they are; lists, tuples
    and dicts item by item; a picture or a tensor by a digest of its bytes and its shape."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return tuple(content_key(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), content_key(v)) for k, v in value.items()))
    if hasattr(value, "tobytes") and hasattr(value, "mode"):  # a PIL image
        return ("image", value.mode, value.size, _digest(value.tobytes()))
    if hasattr(value, "detach") and hasattr(value, "shape"):  # a torch tensor
        data = value.detach().contiguous().cpu()
        raw = data.view(-1).view(_byte_dtype()).numpy().tobytes()
        return ("tensor", tuple(value.shape), str(value.dtype), str(value.device), _digest(raw))
    return ("other", str(value))  # a device, a dtype...


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _byte_dtype() -> Any:
    import torch

    return torch.uint8
