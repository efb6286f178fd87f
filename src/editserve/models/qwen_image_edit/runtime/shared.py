"""Components a worker keeps across a model swap (no torch).

Qwen-Image and Qwen-Image-Edit read prompts with the same text encoder (Qwen2.5-VL-7B,
16.6 GB in bf16) and pictures with the same VAE. When a worker swaps between two members
whose component files are identical, it keeps those components where they are (on the
device) and reads only the rest — the transformer — from disk.

"Identical" is decided by content, never by name: the Hugging Face cache stores each file
under its sha256 (a snapshot's file is a link to ``blobs/<sha256>``), so two repositories'
components are the same exactly when their links point at the same blobs; other files are
hashed (in full up to ``HASH_LIMIT`` bytes, else named by path, size and time, which only
matches the very same file). Nothing is kept where a component was changed after loading:
only with memory mode ``none`` (offload hooks belong to one pipeline), and only for the
same dtype and device. At most one model's components are kept, and a load takes those it
can use and drops the rest before it reads anything, so memory never holds two sets.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from editserve.models.qwen_image_edit.runtime.fingerprint import file_sha256

logger = logging.getLogger("editserve.model")

# What may be kept: untouched by every option (Lightning, quantisation, attention backends,
# step caches and compile act on the transformer, and the scheduler is cheap to read).
SHAREABLE = ("text_encoder", "vae", "tokenizer", "processor")
HASH_LIMIT = 64 * 1024**2


@dataclass(frozen=True)
class ComponentKey:
    name: str
    digest: str
    dtype: str
    device: str


@dataclass(frozen=True)
class Reuse:
    """What a load takes from the kept components: pipeline keyword arguments, and the
    bytes on disk it did not read because of them."""

    components: dict[str, Any]
    bytes_skipped: int


def component_digest(folder: Path) -> str | None:
    """The content identity of a pipeline component's folder (None if there is none)."""
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder).as_posix()}\0{_file_identity(path)}\n".encode())
    return digest.hexdigest()


def _file_identity(path: Path) -> str:
    target = path.resolve()
    if target.parent.name == "blobs":  # the hub cache: the blob's name is its sha256
        return f"blob:{target.name}"
    stat = target.stat()
    if stat.st_size <= HASH_LIMIT:
        return f"sha256:{file_sha256(target)}"
    return f"file:{target}:{stat.st_size}:{stat.st_mtime_ns}"


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


class KeptComponents:
    """The components of the last model a worker process unloaded, by content."""

    def __init__(self) -> None:
        self._kept: dict[ComponentKey, Any] = {}

    @property
    def names(self) -> list[str]:
        return sorted(key.name for key in self._kept)

    def keep(
        self, pipe: Any, folder: Path | None, dtype: str, device: str, memory_mode: str
    ) -> None:
        """Keep what of ``pipe`` another member could reuse (replacing anything kept)."""
        self._kept = {}
        if folder is None or memory_mode != "none":
            return
        for name in SHAREABLE:
            component = getattr(pipe, name, None)
            digest = component_digest(folder / name)
            if component is not None and digest is not None:
                self._kept[ComponentKey(name, digest, dtype, device)] = component

    def take(self, folder: Path | None, dtype: str, device: str, memory_mode: str) -> Reuse:
        """The kept components the pipeline in ``folder`` can use as they are; every other
        kept component is dropped (before the caller reads anything)."""
        kept, self._kept = self._kept, {}
        if not kept or folder is None or memory_mode != "none":
            return Reuse({}, 0)
        found: dict[str, Any] = {}
        skipped = 0
        for name in SHAREABLE:
            digest = component_digest(folder / name)
            key = ComponentKey(name, digest or "", dtype, device)
            if digest is not None and key in kept:
                found[name] = kept[key]
                skipped += folder_bytes(folder / name)
        if found:
            logger.info(
                "model swap: keeping %s (%.2f GB not read)", ", ".join(found), skipped / 1e9
            )
        return Reuse(found, skipped)


# One per worker process: a worker holds one model at a time (see worker/loop.py).
KEPT = KeptComponents()
