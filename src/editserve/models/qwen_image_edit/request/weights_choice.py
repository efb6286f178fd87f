"""Where a member's weights come from, decided from the settings before anything is loaded
(pure functions, no torch): what `editserve pull` fetches and what a worker loads.

Weights (``Settings.model_weights``):

- ``auto``: the real hub weights when CUDA is available, otherwise the tiny random model
  (with a loud warning: its outputs are noise).
- ``tiny``: the tiny random-weight model, built once under ``data_dir/models``.
- an existing local folder: a saved pipeline of the member.
- anything else: a Hugging Face Hub id, at ``Settings.model_revision``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from editserve.core.settings import Settings
from editserve.models.base import ModelLoadError
from editserve.models.qwen_image_edit.members import EDIT_2509
from editserve.models.qwen_image_edit.variant import QwenVariant

_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass(frozen=True)
class WeightsChoice:
    """Where the weights come from, decided from the settings before anything is loaded."""

    kind: Literal["tiny", "local", "hub"]
    location: str  # folder path (tiny/local) or hub id
    revision: str | None = None
    auto_fallback: bool = False  # `auto` fell back to tiny for lack of CUDA


def resolve_weights(
    settings: Settings, cuda_available: bool, variant: QwenVariant
) -> WeightsChoice:
    """Turn ``settings.model_weights`` into a concrete choice, or raise ModelLoadError."""
    value = (settings.model_weights or "auto").strip()
    tiny_folder = str(tiny_weights_folder(settings, variant))
    hub_id, pipeline_class = variant.hub_id, variant.pipeline_class
    if value.lower() == "auto":
        if cuda_available:
            return WeightsChoice("hub", hub_id, settings.model_revision)
        return WeightsChoice("tiny", tiny_folder, auto_fallback=True)
    if value.lower() == "tiny":
        return WeightsChoice("tiny", tiny_folder)
    path = Path(value).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(
                f"model weights {value!r} is a file; give a folder holding a saved "
                f"{pipeline_class} (with model_index.json), a hub id, 'tiny' or 'auto'"
            )
        return WeightsChoice("local", str(path.absolute()))
    if not _looks_like_path(value) and not _HUB_ID_RE.match(value):
        raise ModelLoadError(
            f"model weights {value!r} is neither an existing folder nor a hub id "
            f"(owner/name, e.g. {hub_id}); use a folder, a hub id, 'tiny' or 'auto'"
        )
    if _looks_like_path(value):
        raise ModelLoadError(
            f"model weights folder {value!r} does not exist (set EDITSERVE_MODEL_WEIGHTS to an "
            f"existing folder, a hub id such as {hub_id}, 'tiny' or 'auto')"
        )
    return WeightsChoice("hub", value, settings.model_revision)


def tiny_weights_folder(settings: Settings, variant: QwenVariant) -> Path:
    """Where the tiny model is built: ``settings.tiny_weights_dir`` or data_dir/models/.

    ``tiny_weights_dir`` names Qwen-Image-Edit-2509's folder (as documented for the
    setting); the other family members' tiny twins are built beside it, each in its own
    folder (``variant.tiny_folder_name``).
    """
    if settings.tiny_weights_dir:
        folder = Path(settings.tiny_weights_dir).expanduser()
        if variant is EDIT_2509:
            return folder
        return folder.parent / variant.tiny_folder_name
    return settings.data_dir / "models" / variant.tiny_folder_name


def _looks_like_path(value: str) -> bool:
    return (
        value.startswith(("/", "./", "../", "~", ".\\", "..\\"))
        or value in {".", ".."}
        or "\\" in value
        or value.count("/") > 1
        or os.path.isabs(value)
    )
