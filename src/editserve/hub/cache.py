"""The Hugging Face cache layout, as huggingface_hub writes and reads it.

    <cache>/models--owner--name/
      blobs/<etag>                  file contents (etag: sha256 of LFS files, git oid else)
      blobs/<etag>.incomplete       a download in progress; kept across runs to resume it
      snapshots/<commit>/<path>     relative symlink to ../../blobs/<etag>
      refs/<branch or tag>          the commit it pointed to when fetched
      trees/<commit>.json           the file listing (huggingface_hub's tree cache)
    <cache>/.locks/models--owner--name/<etag>.lock

Files fetched here are found by ``hf_hub_download``, ``snapshot_download`` and diffusers'
``from_pretrained``, online or with ``HF_HUB_OFFLINE=1``. huggingface_hub 1.x+ downloads to a
per-process temporary file it deletes when interrupted; ``<etag>.incomplete`` is ours (and
older huggingface_hub's), so an interrupted pull resumes where it stopped.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path


def default_cache_dir() -> Path:
    """Where huggingface_hub caches files (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE).expanduser()


def free_bytes(path: Path) -> int:
    """Free space of the disk that holds `path` (or its nearest existing parent)."""
    for candidate in (path, *path.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return 0


@dataclass(frozen=True)
class RepoCache:
    """One repo's folder of the cache."""

    cache_dir: Path
    repo: str

    @property
    def folder_name(self) -> str:
        return "models--" + self.repo.replace("/", "--")

    @property
    def root(self) -> Path:
        return self.cache_dir / self.folder_name

    def blob(self, etag: str) -> Path:
        return self.root / "blobs" / etag

    def partial(self, etag: str) -> Path:
        return self.root / "blobs" / f"{etag}.incomplete"

    def snapshot(self, commit: str) -> Path:
        return self.root / "snapshots" / commit

    def pointer(self, commit: str, path: str) -> Path:
        return self.snapshot(commit).joinpath(*path.split("/"))

    def lock(self, etag: str) -> Path:
        return self.cache_dir / ".locks" / self.folder_name / f"{etag}.lock"

    def partial_size(self, etag: str) -> int:
        try:
            return self.partial(etag).stat().st_size
        except OSError:
            return 0

    def has(self, commit: str, path: str, size: int | None = None) -> bool:
        """The file is in the snapshot (through its link) with the expected size."""
        pointer = self.pointer(commit, path)
        try:
            actual = pointer.stat().st_size  # follows the link: a dangling one fails
        except OSError:
            return False
        return size is None or actual == size

    def read_ref(self, ref: str) -> str | None:
        try:
            return (self.root / "refs" / ref).read_text().strip() or None
        except OSError:
            return None

    def write_ref(self, ref: str, commit: str) -> None:
        if ref == commit or self.read_ref(ref) == commit:
            return
        path = self.root / "refs" / ref
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(commit)
        os.replace(tmp, path)

    def link(self, commit: str, path: str, etag: str) -> Path:
        """Point snapshots/<commit>/<path> at the blob (a relative link, or a copy where the
        file system has no links)."""
        pointer = self.pointer(commit, path)
        pointer.parent.mkdir(parents=True, exist_ok=True)
        blob = self.blob(etag)
        tmp = pointer.with_name(f".{pointer.name}.{os.getpid()}.link")
        tmp.unlink(missing_ok=True)
        try:
            os.symlink(os.path.relpath(blob, pointer.parent), tmp)
        except OSError:
            shutil.copyfile(blob, tmp)
        os.replace(tmp, pointer)
        return pointer


__all__ = ["RepoCache", "default_cache_dir", "free_bytes"]
