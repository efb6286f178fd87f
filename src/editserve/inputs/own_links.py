"""This cluster's own links given back as ``input_image``, recognised on any host.

A result or file URL, ``<any base>/files/<key>?signature=...`` (lasting, or the older
``expires=`` form while it is valid), is ours exactly when its signature verifies with
the shared signing secret, whatever host, port or path prefix it names: another node, a
load balancer, ``127.0.0.1``. Such a link is read from blob storage, never fetched over
HTTP (the SSRF guard would refuse a private host), after an owner check: the caller's own
generation's output, or an input the caller uploaded or edited with. An upload URL,
``<any base>/api/ai/uploads/<id>``, is ours when the upload exists. Another key's file or
upload is a 404 naming the image (``input_image[0]: file not found: ...``); a link that
does not verify is not ours and is treated as any other URL.
"""

from __future__ import annotations

import re
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from anyio import to_thread

from editserve.blobs.base import InvalidKey, validate_key
from editserve.blobs.signing import UrlSigner

FILES_SEGMENT = "/files/"
UPLOADS_PATH = "/api/ai/uploads/"  # an upload's URL is <base> + UPLOADS_PATH + <id>
UPLOAD_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")


class BlobOwners(Protocol):
    """The store's answers an owner check needs (store/links.py)."""

    def owns_blob(self, owner: str, key: str) -> bool: ...
    def upload_owner(self, upload_id: str) -> str | None: ...


class OwnLinks:
    """Recognises and owner-checks this cluster's file and upload links."""

    def __init__(self, signer: UrlSigner, owners: BlobOwners) -> None:
        self.signer = signer
        self.owners = owners

    def file_key(self, ref: str) -> str | None:
        """The blob key of a ``/files/`` link this cluster signed, else None."""
        try:
            parts = urlsplit(ref)
        except ValueError:
            return None
        query = parse_qs(parts.query)
        signatures = query.get("signature", [])
        expires = query.get("expires", [None])
        if len(signatures) != 1 or len(expires) != 1:
            return None
        path = parts.path
        start = path.find(FILES_SEGMENT)
        while start >= 0:  # a path prefix may hold "/files/" too: try every place
            key = unquote(path[start + len(FILES_SEGMENT) :])
            if _valid_key(key) and self.signer.verify_link(key, expires[0], signatures[0]):
                return key
            start = path.find(FILES_SEGMENT, start + 1)
        return None

    async def owns(self, owner: str, key: str) -> bool:
        return await to_thread.run_sync(self.owners.owns_blob, owner, key)

    async def upload_owner(self, upload_id: str) -> str | None:
        return await to_thread.run_sync(self.owners.upload_owner, upload_id)


def upload_id_in(ref: str) -> str | None:
    """The upload id of an ``.../api/ai/uploads/<id>`` URL on any host, else None."""
    try:
        path = urlsplit(ref).path
    except ValueError:
        return None
    start = path.rfind(UPLOADS_PATH)
    if start < 0:
        return None
    upload_id = path[start + len(UPLOADS_PATH) :].rstrip("/")
    return upload_id if UPLOAD_ID_RE.fullmatch(upload_id) else None


def _valid_key(key: str) -> bool:
    try:
        validate_key(key)
    except InvalidKey:
        return False
    return True


__all__ = ["UPLOADS_PATH", "UPLOAD_ID_RE", "BlobOwners", "OwnLinks", "upload_id_in"]
