"""Signed URLs for blobs served by the API itself (``GET /files/<key>``).

Two forms, both verified by every node that shares the secret:

* **lasting** (what the API hands out): ``/files/<key>?signature=<hex>`` with
  ``HMAC-SHA256(secret, "<key>\\nlasting")``. It works for as long as the blob exists: a
  capability link, like an unguessable share link. Revoke every link at once by rotating
  the secret.
* **expiring** (the first form, still honoured so links already handed out keep working):
  ``/files/<key>?expires=<unix>&signature=<hex>`` with
  ``HMAC-SHA256(secret, "<key>\\n<expires_at>")``, valid until ``expires``.

The two messages can never collide (``lasting`` is not a number). Every API node must
share the secret: set ``EDITSERVE_SIGNING_SECRET`` when running several nodes; a single
node generates one into ``data_dir/signing_secret``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from editserve.config import Settings
from editserve.storage.base import validate_key

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
        message = f"{key}\n{int(expires_at)}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign_lasting(self, key: str) -> str:
        message = f"{key}\n{LASTING}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

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


def load_or_create_secret(settings: Settings) -> bytes:
    """The signing secret: ``settings.signing_secret``, else ``data_dir/signing_secret``.

    The file is created on first use with a random 256-bit secret and mode 0600. Creation
    is race-safe across processes: the secret is written to a private temporary file that
    is then hard-linked into place, which fails if another process got there first (we
    then read theirs), so no process ever sees a partially written secret.
    """
    if settings.signing_secret:
        return settings.signing_secret.encode("utf-8")
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE_NAME
    existing = _read_secret(path)
    if existing:
        return existing
    _create_secret(path, secrets.token_hex(32).encode("ascii"))
    secret = _read_secret(path, wait=True)
    if not secret:
        raise RuntimeError(f"could not read the signing secret from {path}")
    return secret


def _read_secret(path: Path, *, wait: bool = False) -> bytes | None:
    # Only the O_EXCL fallback can expose an empty file briefly; wait it out.
    deadline = time.monotonic() + (2.0 if wait else 0.0)
    while True:
        try:
            value = path.read_bytes().strip()
        except FileNotFoundError:
            value = b""
        if value or time.monotonic() >= deadline:
            return value or None
        time.sleep(0.01)


def _create_secret(path: Path, secret: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".signing_secret-")
    try:
        with os.fdopen(fd, "wb") as handle:  # mkstemp creates it 0600
            handle.write(secret + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return
        except OSError:
            # A filesystem without hard links: exclusive create instead.
            _create_exclusive(path, secret)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _create_exclusive(path: Path, secret: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
