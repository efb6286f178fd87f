"""Links to stored blobs that work without the Bearer header for as long as the blob
exists: this server's lasting, signed ``/files/<key>?signature=...`` path.

The API node answers it from the local folder, or with a redirect to a fresh presigned
URL of the object storage (valid ``url_ttl_seconds``), so a link an app stored keeps
working while the node never carries the bytes. See storage/signing.py for the forms.
"""

from __future__ import annotations

from collections.abc import Callable

from editserve.blobs.signing import UrlSigner

UrlFor = Callable[[str], str]


def link_maker(signer: UrlSigner, base: str) -> UrlFor:
    """``key → URL`` for one base URL (the one clients reach this server at)."""
    base = base.rstrip("/")

    def url_for(key: str) -> str:
        return base + signer.lasting_path(key)

    return url_for
