"""Blob storage in a local folder.

Writes are atomic (a temporary file in the same folder, fsynced, then ``os.replace``), so a
reader never sees a half-written blob and a crash never leaves one behind under its key.
The content type is implied by the key's extension; when :meth:`put` is given a different
one it is kept in a sidecar file under ``<root>/.meta/`` (a name no valid key can reach).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from editserve.blobs.base import StorageUnavailable, guess_content_type, validate_key
from editserve.core.errors import NotFound

_META_DIR = ".meta"


class LocalStorage:
    """A :class:`~editserve.blobs.base.BlobStorage` backed by the folder ``root``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    # --- BlobStorage -----------------------------------------------------------------
    def check(self) -> None:
        """The folder exists (made if need be) and this process can create files in it:
        a real write, since permission bits say nothing for root or a read-only mount."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=self.root, prefix=".check-")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise StorageUnavailable(
                f"storage folder {self.root} is not writable by this process "
                f"({exc.strerror or type(exc).__name__}): fix the folder or its permissions, "
                "or set EDITSERVE_STORAGE_URL to another folder"
            ) from None

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        _atomic_write(path, data)
        meta = self._meta_path(key)
        if content_type and content_type != guess_content_type(key):
            _atomic_write(meta, content_type.encode("utf-8"))
        elif meta.exists():
            meta.unlink(missing_ok=True)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"Blob not found: {key}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
        self._meta_path(key).unlink(missing_ok=True)

    def content_type(self, key: str) -> str:
        if not self.exists(key):
            raise NotFound(f"Blob not found: {key}")
        try:
            return self._meta_path(key).read_text("utf-8").strip()
        except FileNotFoundError:
            return guess_content_type(key)

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"Blob not found: {key}")
        return path

    def presigned_url(self, key: str, ttl_seconds: int) -> str | None:
        validate_key(key)
        return None

    # --- helpers -----------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def _meta_path(self, key: str) -> Path:
        return self.root.joinpath(_META_DIR, *validate_key(key).split("/"))


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            # The database will point at this blob right after put() returns: make the
            # bytes durable before the name appears.
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
