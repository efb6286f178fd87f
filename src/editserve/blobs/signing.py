"""Signed URLs for blobs served by the API itself (``GET /files/<key>``).

Two forms, both verified by every node that shares the secret:

* **lasting** (what the API hands out): ``/files/<key>?signature=<hex>`` with
  ``HMAC-SHA256(secret, "<key>\\nlasting")``. It works for as long as the blob exists: a
  capability link, like an unguessable share link. Revoke every link at once by rotating
  the secret.
* **expiring** (the first form, still honoured so links already handed out keep working):
  ``/files/<key>?expires=<unix>&signature=<hex>`` with
  ``HMAC-SHA256(secret, "<key>\\n<expires_at>")``, valid until ``expires``.

The two messages can never collide (``lasting`` is not a number). Every API node signs
with the cluster's one secret: ``EDITSERVE_SIGNING_SECRET``, else the one kept in the
cluster record (editserve.services.cluster.secret).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from urllib.parse import quote

from editserve.blobs.base import validate_key

SECRET_FILE_NAME = "signing_secret"


LASTING = "lasting"


class UrlSigner:
    """Signs and verifies blob keys (lasting) and ``(key, expires_at)`` pairs with one
    secret."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("the signing secret must not be empty")
        self._secret = bytes(secret)

    def sign(self, key: str, expires_at: int) -> str:
        return self._mac(f"{key}\n{int(expires_at)}")

    def sign_lasting(self, key: str) -> str:
        return self._mac(f"{key}\n{LASTING}")

    def _mac(self, message: str) -> str:
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def verify_link(
        self,
        key: str,
        expires_at: int | str | None,
        signature: str,
        *,
        now: float | None = None,
    ) -> bool:
        """True for a valid lasting link (``expires_at`` None) or a valid, unexpired
        expiring one: what ``GET /files/<key>`` and the input resolver accept."""
        if expires_at is None:
            if not isinstance(signature, str) or not isinstance(key, str):
                return False
            return _same(self.sign_lasting(key), signature)
        return self.verify(key, expires_at, signature, now=now)

    def lasting_path(self, key: str) -> str:
        """``/files/<key>?signature=<hex>``: works as long as the blob does.

        Prefix it with the public base URL to hand it to a client.
        """
        validate_key(key)
        return f"/files/{quote(key, safe='/')}?signature={self.sign_lasting(key)}"

    def verify(
        self,
        key: str,
        expires_at: int | str,
        signature: str,
        *,
        now: float | None = None,
    ) -> bool:
        """True if ``signature`` is valid for ``key`` and ``expires_at`` is still ahead.

        Accepts the raw query-string values (``expires_at`` as text); anything malformed
        is simply invalid. The comparison is constant-time.
        """
        try:
            expires = int(expires_at)
        except (TypeError, ValueError):
            return False
        if not isinstance(signature, str) or not isinstance(key, str):
            return False
        current = time.time() if now is None else now
        if expires <= current:
            return False
        return _same(self.sign(key, expires), signature)

    def signed_path(self, key: str, ttl_seconds: int, *, now: float | None = None) -> str:
        """``/files/<key>?expires=<unix>&signature=<hex>``, valid for ``ttl_seconds``.

        Prefix it with the public base URL to hand it to a client.
        """
        validate_key(key)
        current = time.time() if now is None else now
        expires = int(current) + int(ttl_seconds)
        return (
            f"/files/{quote(key, safe='/')}?expires={expires}&signature={self.sign(key, expires)}"
        )


def _same(expected: str, signature: str) -> bool:
    """Constant-time comparison of a hex signature, case-insensitive."""
    return hmac.compare_digest(expected.encode(), signature.lower().encode("ascii", "replace"))


def read_secret_file(data_dir: Path) -> str | None:
    """The secret an editserve from before the cluster record kept in
    ``data_dir/signing_secret``, if there is one (the cluster record adopts it, so the links
    that server handed out stay valid; see editserve.services.cluster.secret)."""
    try:
        value = (Path(data_dir) / SECRET_FILE_NAME).read_bytes().strip().decode("utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return value or None
