"""The blob storage interface and the key rules every backend shares.

Keys are relative, slash-separated names such as ``inputs/<sha256>.png`` or
``outputs/<generation_id>.webp``. They are validated by every backend before use, so a
key can never escape the store's folder or prefix.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from typing import Protocol, runtime_checkable

from editserve.core.errors import InvalidParams

MAX_KEY_LENGTH = 512

# Each segment starts with a letter or digit (no hidden files, no "." or ".." segments)
# and uses a small, URL- and filesystem-safe alphabet.
_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*")

_CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".json": "application/json",
}


class StorageUnavailable(RuntimeError):
    """The storage cannot be used as configured (a missing bucket, refused credentials, a
    folder that cannot be written). The message says what to fix; start-up stops on it."""


class InvalidKey(InvalidParams):
    """A blob key that is empty, too long, absolute, contains ``..`` or odd characters."""


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a safe blob key, else raise :class:`InvalidKey`."""
    if (
        not isinstance(key, str)
        or not key
        or len(key) > MAX_KEY_LENGTH
        or ".." in key
        or not _KEY_RE.fullmatch(key)
    ):
        raise InvalidKey(
            f"key: {key!r} is not a valid blob key (relative path of [A-Za-z0-9._-] "
            "segments, no '..', at most 512 characters)"
        )
    return key


def guess_content_type(key: str) -> str:
    """The content type implied by a key's extension (``application/octet-stream`` if none)."""
    suffix = Path(key).suffix.lower()
    if suffix in _CONTENT_TYPES:
        return _CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(key, strict=False)
    return guessed or "application/octet-stream"


@runtime_checkable
class BlobStorage(Protocol):
    """Where inputs and outputs live. Synchronous: call it from a thread in async code."""

    def check(self) -> None:
        """Prove the storage is usable now (start-up); raise :class:`StorageUnavailable`
        with a message that says what to fix."""
        ...

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` atomically, replacing any previous blob; an empty
        ``content_type`` means the one implied by the key's extension."""
        ...

    def get(self, key: str) -> bytes:
        """The blob's bytes; raises :class:`editserve.core.errors.NotFound` if it is missing."""
        ...

    def exists(self, key: str) -> bool:
        """Whether a blob is stored under ``key``."""
        ...

    def delete(self, key: str) -> None:
        """Remove the blob; a missing blob is not an error."""
        ...

    def content_type(self, key: str) -> str:
        """The content type given to :meth:`put`; raises NotFound if the blob is missing."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The blob's file on this machine (to stream it), or None for remote backends.

        Raises NotFound if the backend is local and the blob is missing.
        """
        ...

    def presigned_url(self, key: str, ttl_seconds: int) -> str | None:
        """A URL that fetches the blob without credentials for ``ttl_seconds``.

        None means the backend cannot sign URLs itself (the local folder): the API then
        serves the blob at ``/files/<key>`` with its own :class:`UrlSigner` signature.
        """
        ...
