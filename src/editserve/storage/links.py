"""Links to stored blobs that work without the Bearer header, for a while: the storage's
own presigned URL (S3) or this server's signed ``/files/...`` path."""

from __future__ import annotations

from collections.abc import Callable

from editserve.storage.base import BlobStorage
from editserve.storage.signing import UrlSigner

UrlFor = Callable[[str], str]


def link_maker(storage: BlobStorage, signer: UrlSigner, ttl_seconds: int, base: str) -> UrlFor:
    """``key → URL`` for one base URL (the one clients reach this server at)."""
    base = base.rstrip("/")

    def url_for(key: str) -> str:
        presigned = storage.presigned_url(key, ttl_seconds)
        if presigned:
            return presigned
        return base + signer.signed_path(key, ttl_seconds)

    return url_for
