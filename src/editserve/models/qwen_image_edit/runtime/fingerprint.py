"""Content hashes of weight folders and files, for receipts (no torch).

A hub download is identified by its repo and commit; a local folder (or the tiny model)
has no such name, so its content is hashed. Folders up to ``FULL_HASH_LIMIT`` bytes are
hashed in full; larger ones (the real model is ~58 GB) hash every small file in full and
each large file by its size plus its first and last ``SAMPLE_BYTES`` — enough to tell
shards apart in seconds, and the method is recorded next to the hash.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

FULL_HASH_LIMIT = 2 * 1024**3
SMALL_FILE = 16 * 1024**2
SAMPLE_BYTES = 4 * 1024**2
CHUNK = 1024 * 1024


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sampled_sha256(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        digest.update(handle.read(SAMPLE_BYTES))
        handle.seek(max(0, size - SAMPLE_BYTES))
        digest.update(handle.read(SAMPLE_BYTES))
    return digest.hexdigest()


def folder_fingerprint(folder: Path, *, full_limit: int = FULL_HASH_LIMIT) -> dict[str, Any]:
    """A content hash of every (non-hidden) file of `folder`, with how it was taken."""
    files = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )
    sizes = {path: path.stat().st_size for path in files}
    total = sum(sizes.values())
    full = total <= full_limit
    digest = hashlib.sha256()
    for path in files:
        size = sizes[path]
        part = file_sha256(path) if full or size <= SMALL_FILE else _sampled_sha256(path, size)
        digest.update(f"{path.relative_to(folder).as_posix()}\0{size}\0{part}\n".encode())
    return {
        "sha256": digest.hexdigest(),
        "method": (
            "sha256 of every file"
            if full
            else f"sha256 of files <= {SMALL_FILE // 1024**2} MiB, size + first/last "
            f"{SAMPLE_BYTES // 1024**2} MiB of larger ones"
        ),
        "files": len(files),
        "bytes": total,
    }


def snapshot_commit(folder: Path) -> str | None:
    """The commit of a Hugging Face cache snapshot folder (.../snapshots/<commit>)."""
    if folder.parent.name == "snapshots" and re.fullmatch(r"[0-9a-f]{40}", folder.name):
        return folder.name
    return None
