"""API keys: random secrets shown once, stored only as a hash. A key's webhook signing
secret (whsec_…) is stored as is (signing needs it): `editserve keys webhook KEY
--show-secret` prints it."""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from editserve.domain.webhook_signing import new_secret as new_webhook_secret
from editserve.store import KeyStore
from editserve.store.rows import DEFAULT_SCOPES, SCOPES, ApiKeyRow

KEY_PREFIX = "es_"
FIRST_KEY_FILE = "api_key"
FIRST_WEBHOOK_SECRET_FILE = "webhook_secret"  # the first key's signing secret, beside api_key


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    row: ApiKeyRow
    secret: str

    @property
    def webhook_secret(self) -> str:
        """Signs this key's webhook deliveries (`editserve keys webhook KEY --show-secret`)."""
        assert self.row.webhook_secret is not None
        return self.row.webhook_secret


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's id (the owner of what it makes) and what it may do."""

    id: str
    scopes: tuple[str, ...]

    def may(self, scope: str) -> bool:
        """Whether the key has this scope (admin may do everything)."""
        return scope in self.scopes or "admin" in self.scopes


def new_key(name: str, scopes: tuple[str, ...] = DEFAULT_SCOPES, **limits: Any) -> NewKey:
    """A new key and its secret, not stored yet. ``limits``: weight, max_running,
    gpu_seconds_per_day, webhook_url (ApiKeyRow's fields)."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKeyRow(
        id="key_" + secrets.token_hex(6),
        name=name,
        prefix=secret[:10],
        key_hash=hash_key(secret),
        created_at=time.time(),
        webhook_secret=new_webhook_secret(),
        scopes=tuple(scope for scope in SCOPES if scope in scopes),
        **limits,
    )
    return NewKey(row=row, secret=secret)


def create_key(
    store: KeyStore,
    name: str,
    scopes: tuple[str, ...] = DEFAULT_SCOPES,
    *,
    actor: str | None = None,
    **limits: Any,
) -> NewKey:
    """Make and store a key; with an actor, the creation is in the audit log."""
    key = new_key(name, scopes, **limits)
    store.insert_key(key.row, actor=actor)
    return key


def ensure_first_key(store: KeyStore, data_dir: Path, made_by: str | None = None) -> NewKey | None:
    """On a first start with no keys, make one and write it to an owner-only file
    (data_dir/api_key), its webhook signing secret to another (data_dir/webhook_secret).

    Once per cluster: of nodes starting together on one database only one makes it
    (Store.create_first_key), recorded as made by ``made_by`` (default: data_dir).
    """
    if store.count_active_keys() > 0:
        return None
    key = new_key("default", SCOPES)  # the operator's key: admin, submit and read
    if not store.create_first_key(key.row, made_by or str(Path(data_dir).resolve())):
        return None
    write_owner_only(data_dir / FIRST_KEY_FILE, key.secret)
    write_owner_only(data_dir / FIRST_WEBHOOK_SECRET_FILE, key.webhook_secret)
    return key


def write_owner_only(path: Path, text: str) -> None:
    """Write one line to a file only its owner may read (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    os.chmod(path, 0o600)


class KeyRing:
    """The API's view of the keys: who is calling."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    def authenticate(self, secret: str) -> Caller | None:
        """The live key with this secret (its id owns what it makes), or None."""
        row = self.store.key_by_hash(hash_key(secret))
        return Caller(row.id, row.scopes) if row is not None else None

    def link_revoked(self, blob_key: str) -> bool:
        """Whether a signed link to the blob died with its key (every owner is revoked)."""
        return self.store.blob_owners_revoked(blob_key)


def find_key_id(store: KeyStore, id_or_prefix: str) -> str | None:
    """Resolve a key by its id (key_…), its whole secret, or the start of its secret."""
    wanted = id_or_prefix.strip()
    rows = store.list_keys()
    for row in rows:
        if row.id == wanted or row.key_hash == hash_key(wanted):
            return row.id
    if len(wanted) >= 6:
        matches = [
            row for row in rows if row.prefix.startswith(wanted) or wanted.startswith(row.prefix)
        ]
        if len(matches) == 1:
            return matches[0].id
    return None


def webhook_secret_of(store: KeyStore, key_id: str) -> str | None:
    """The key's current webhook signing secret; None if it has none yet (a key made before
    webhooks gets one at its first delivery, or from ``--rotate-secret``)."""
    for row in store.list_keys():
        if row.id == key_id:
            return row.webhook_secret
    return None


def set_default_webhook(
    store: KeyStore,
    key_id: str,
    url: str | None,
    *,
    set_url: bool,
    rotate: bool,
    allow_hosts: list[str] | None = None,
) -> str:
    """Set (None: clear) a key's default webhook and/or rotate its secret; say what changed."""
    import asyncio

    from editserve.core.errors import InvalidParams
    from editserve.net.ssrf import HostPolicy
    from editserve.net.webhook_targets import check_target

    said = []
    if set_url:
        if url is not None:
            try:
                url = asyncio.run(check_target(url, HostPolicy(allow_hosts or []), field="--url"))
            except InvalidParams as exc:
                raise ValueError(exc.detail) from None
        store.set_key_webhook(key_id, url)
        said.append(f"default webhook of {key_id}: {url or '(none)'}")
    if rotate:
        secret = new_webhook_secret()
        store.rotate_webhook_secret(key_id, secret)
        said.append(f"new webhook signing secret of {key_id}: {secret}")
    return "\n".join(said)
