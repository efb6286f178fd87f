"""Per-request LoRAs: the ``loras`` request field and where each named file is (no torch).

A request names up to 3 LoRAs, each ``{"path": ..., "scale": 0-4}``; ``path`` is

- a file name in the operator's folder (``EDITSERVE_LORA_DIR``; ``.safetensors`` optional),
- a hub file ``owner/repo[@revision]/path/file.safetensors`` in the local hub cache (looked
  up the way the Lightning LoRA is; nothing is downloaded from the hub), or
- when the operator allows it (``EDITSERVE_LORA_ALLOW_URLS``), an https URL of a
  ``.safetensors`` file, fetched by the worker through the input-image fetcher (its SSRF
  guard and byte limit) and cached by content hash under ``data_dir/loras``.

Only safetensors files are read (never pickles). At enqueue, every local file is checked
against the model (lora_check.py); a URL's file is checked by the worker.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from editserve.core.errors import InvalidParams
from editserve.core.settings import Settings
from editserve.models.qwen_image_edit.request.lora_check import (
    LoraMismatch,
    candidate_configs,
    check_file,
)

MAX_LORAS = 3
MAX_LORA_SCALE = 4.0
SUFFIX = ".safetensors"
_HUB_FILE = re.compile(r"([\w.-]+)/([\w.-]+)(?:@([\w.-]+))?/(.+\.safetensors)")
_FOLDER_NAME = re.compile(r"[\w][\w .+-]*")


class LoraRef(BaseModel):
    """One LoRA of a request: which file, at what strength."""

    model_config = ConfigDict(extra="forbid", title="LoRA")

    path: str = Field(
        min_length=1,
        max_length=2048,
        description=(
            "A LoRA of this server's list (the model card's `loras`), a hub file "
            "owner/repo[@revision]/file.safetensors in the server's hub cache, or an https "
            "URL of a .safetensors file (when the server allows URLs)."
        ),
    )
    scale: float = Field(
        default=1.0, ge=0.0, le=MAX_LORA_SCALE, description="Strength of the LoRA (0-4)."
    )

    @field_validator("path")
    @classmethod
    def _safetensors_only(cls, value: str) -> str:
        text = value.strip()
        lowered = text.lower()
        if lowered.startswith("http://"):
            raise ValueError("a LoRA URL must be https")
        if "." in Path(lowered.split("?")[0]).name and not lowered.split("?")[0].endswith(SUFFIX):
            raise ValueError("must be a .safetensors file (other formats are not loaded)")
        return text


# The request field, shared by every member of the family (schema.py).
LoraList = Annotated[
    list[LoraRef],
    Field(
        default_factory=list,
        max_length=MAX_LORAS,
        description=(
            f"Up to {MAX_LORAS} LoRAs applied to this request only, each "
            '{"path": ..., "scale": 0-4 (default 1)}.'
        ),
        json_schema_extra={"x-order": 12, "renderType": "loras"},
    ),
]


class LoraNotFound(ValueError):
    """The path names no LoRA this server has; the message says where it looked."""


@dataclass(frozen=True)
class LoraLocation:
    """Where a request's LoRA path points: a local file, or a URL to fetch."""

    kind: Literal["folder", "hub", "url"]
    file: Path | None  # None for a URL not fetched yet


def locate(path: str, settings: Settings) -> LoraLocation:
    """The LoRA a request's `path` names. Raises LoraNotFound (message for the caller)."""
    if path.lower().startswith("https://"):
        if not settings.lora_allow_urls:
            raise LoraNotFound(
                "LoRA URLs are not enabled on this server; use a LoRA of the model's list"
            )
        return LoraLocation("url", None)
    hub = _HUB_FILE.fullmatch(path)
    if hub is not None:
        owner, repo, revision, filename = hub.groups()
        return LoraLocation("hub", _in_hub_cache(f"{owner}/{repo}", revision, filename, path))
    return LoraLocation("folder", _in_folder(path, settings))


def folder_loras(settings: Settings) -> list[Path]:
    """The operator's LoRA files, by name."""
    folder = settings.lora_dir
    if folder is None or not Path(folder).is_dir():
        return []
    return sorted(p for p in Path(folder).iterdir() if p.suffix == SUFFIX and p.is_file())


def fitting_loras(settings: Settings, tiny_overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """The operator's LoRAs that fit a model whose settings are `settings` (for its card);
    each file's header is read once per size and modification time."""
    configs = candidate_configs(settings.model_weights, tiny_overrides)
    found: list[dict[str, Any]] = []
    for file in folder_loras(settings):
        stat = file.stat()
        key = (str(file), stat.st_size, stat.st_mtime_ns, repr(configs))
        if key not in _FITS:
            try:
                check_file(file, configs)
                _FITS[key] = True
            except LoraMismatch:
                _FITS[key] = False
        if _FITS[key]:
            found.append({"name": file.stem, "path": file.name, "size_bytes": stat.st_size})
    return found


_FITS: dict[tuple[str, int, int, str], bool] = {}
_HASHES: dict[tuple[str, int, int], str] = {}


def content_hash(file: Path) -> str:
    """The sha256 of a file (remembered per path, size and modification time)."""
    stat = file.stat()
    key = (str(file), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def _in_folder(name: str, settings: Settings) -> Path:
    folder = settings.lora_dir
    if folder is None:
        raise LoraNotFound(
            "no LoRA folder is set on this server (EDITSERVE_LORA_DIR); name a hub file "
            "owner/repo/file.safetensors instead"
        )
    if not _FOLDER_NAME.fullmatch(name) or ".." in name:
        raise LoraNotFound(
            "must be a LoRA name of the model's list, a hub file "
            "owner/repo[@revision]/file.safetensors, or an https URL"
        )
    file = Path(folder) / (name if name.endswith(SUFFIX) else name + SUFFIX)
    if not file.is_file():
        raise LoraNotFound(f"no LoRA named {name!r} on this server (see the model's loras)")
    return file


def _in_hub_cache(repo: str, revision: str | None, filename: str, asked: str) -> Path:
    from huggingface_hub import try_to_load_from_cache

    parts = [*repo.split("/"), *(filename.split("/")), revision or "x"]
    if any(part in ("", ".", "..") for part in parts):
        raise LoraNotFound(f"{asked}: a hub file's path may not have empty, . or .. parts")
    try:
        found = try_to_load_from_cache(repo, filename, revision=revision)
    except (ValueError, OSError):  # an invalid repo id or file name
        found = None
    if not isinstance(found, str):
        raise LoraNotFound(
            f"{asked} is not in this server's hub cache (the operator can fetch it with "
            f"`hf download {repo} {filename}`)"
        )
    return Path(found)


def check_loras(refs: list[LoraRef], settings: Settings, tiny_overrides: dict[str, Any]) -> None:
    """Refuse at enqueue a request's LoRAs this server cannot apply: InvalidParams naming
    the LoRA. `settings` are the model's own (Settings.for_model)."""
    if refs and settings.quantization.strip().lower() not in ("", "none"):
        raise InvalidParams(
            "loras: not available on this server: its transformer weights are quantised "
            f"(EDITSERVE_QUANTIZATION={settings.quantization}), and LoRAs need full precision"
        )
    configs = candidate_configs(settings.model_weights, tiny_overrides)
    for index, ref in enumerate(refs):
        try:
            where = locate(ref.path, settings)
            if where.file is not None:
                check_file(where.file, configs)
        except (LoraNotFound, LoraMismatch) as exc:
            raise InvalidParams(f"loras[{index}].path: LoRA {ref.path!r} {_worded(exc)}") from None


def _worded(exc: Exception) -> str:
    text = str(exc)
    return text if isinstance(exc, LoraMismatch) else f"cannot be used: {text}"
