"""Blob storage (local folder or S3-compatible) and signed URLs for blobs.

Public API::

    open_storage(settings) -> BlobStorage          # by settings.resolved_storage_url
    BlobStorage, LocalStorage, S3Storage, InvalidKey, validate_key
    UrlSigner(secret).lasting_path(key) / .verify_link(key, expires, signature)
    read_secret_file(data_dir) -> str | None     # a pre-cluster data_dir secret
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from editserve.blobs.base import (
    BlobStorage,
    InvalidKey,
    StorageUnavailable,
    guess_content_type,
    validate_key,
)
from editserve.blobs.local import LocalStorage
from editserve.blobs.s3 import S3Storage
from editserve.blobs.signing import UrlSigner, read_secret_file
from editserve.core.settings import Settings

__all__ = [
    "BlobStorage",
    "InvalidKey",
    "LocalStorage",
    "S3Storage",
    "StorageUnavailable",
    "UrlSigner",
    "guess_content_type",
    "open_storage",
    "read_secret_file",
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
