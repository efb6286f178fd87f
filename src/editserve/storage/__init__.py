"""Blob storage (local folder or S3-compatible) and signed URLs for blobs.

Public API::

    open_storage(settings) -> BlobStorage          # by settings.resolved_storage_url
    BlobStorage, LocalStorage, S3Storage, InvalidKey, validate_key
    UrlSigner(secret).signed_path(key, ttl) / .verify(key, expires, signature)
    load_or_create_secret(settings) -> bytes
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from editserve.config import Settings
from editserve.storage.base import (
    BlobStorage,
    InvalidKey,
    StorageUnavailable,
    guess_content_type,
    validate_key,
)
from editserve.storage.local import LocalStorage
from editserve.storage.s3 import S3Storage
from editserve.storage.signing import UrlSigner, load_or_create_secret

__all__ = [
    "BlobStorage",
    "InvalidKey",
    "LocalStorage",
    "S3Storage",
    "StorageUnavailable",
    "UrlSigner",
    "guess_content_type",
    "load_or_create_secret",
    "open_storage",
    "validate_key",
]


def open_storage(settings: Settings) -> BlobStorage:
    """The storage backend named by ``settings.resolved_storage_url``.

    ``file:///abs/folder`` (or a plain path) → :class:`LocalStorage`;
    ``s3://bucket/prefix`` → :class:`S3Storage` at ``settings.s3_endpoint_url``.
    """
    url = settings.resolved_storage_url
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(
                f"storage_url {url!r}: a file:// URL needs an absolute path (file:///folder)"
            )
        return LocalStorage(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        return S3Storage.from_url(url, endpoint_url=settings.s3_endpoint_url)
    if parts.scheme == "" and url:
        return LocalStorage(Path(url))
    raise ValueError(
        f"storage_url {url!r}: unsupported scheme {parts.scheme!r} "
        "(use file:///folder or s3://bucket/prefix)"
    )
