"""A node's start: reach the database and the storage, then agree with the cluster.

``start_node`` is the one start-up check of ``editserve serve`` and ``editserve worker``.
Each problem stops the start with :class:`NodeRefused`, whose message is one line (per
differing setting) that says what to fix; no traceback, no password.
"""

from __future__ import annotations

import logging
import secrets
import socket
import sqlite3
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote

from editserve.blobs import open_storage
from editserve.blobs.base import BlobStorage, StorageUnavailable
from editserve.core.logs import MASK, redact_secrets
from editserve.core.settings import Settings
from editserve.services.cluster.agreed import PREFIX, Mismatch, agreed_facts, compare, refusal
from editserve.store import ClusterStore, Store, open_store
from editserve.store.cluster import ClusterFact

log = logging.getLogger("editserve.services.cluster")

Role = Literal["api", "worker"]
CLUSTER_ID = "cluster_id"


class NodeRefused(RuntimeError):
    """This node must not start; the message says why and what to fix."""


@dataclass
class Node:
    """A node that may start: its store and storage (checked), and the cluster record."""

    settings: Settings
    store: Store
    storage: BlobStorage
    name: str
    facts: dict[str, ClusterFact]
    adopted: list[Mismatch] = field(default_factory=list)


def node_name(settings: Settings) -> str:
    """How the cluster record names a node: host:data_dir."""
    return f"{socket.gethostname()}:{settings.data_dir.resolve()}"


def new_cluster_id() -> str:
    return "cl_" + secrets.token_hex(8)


def _password(url: str) -> str | None:
    """The password of a URL's user information, however it is written: a '/', '#', '?'
    or '@' typed into it unencoded makes urlsplit see no password at all."""
    _scheme, sep, rest = url.partition("://")
    userinfo, at, _host = rest.rpartition("@")
    if not sep or not at:
        return None
    _user, colon, password = userinfo.partition(":")
    return password if colon and password else None


def redact(url: str) -> str:
    """The URL without its password (user:***@host; password=*** in a query or conninfo)."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at:
        return redact_secrets(url)
    user = userinfo.partition(":")[0]
    # a database's user name alone is no secret: keep it
    return f"{scheme}://{user}{':' + MASK if _password(url) else ''}@{redact_secrets(host)}"


def error_reason(exc: BaseException, url: str | None = None) -> str:
    """The first line of the error, without the password of ``url`` (drivers quote the
    URL they could not parse) or any other URL's."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = lines[0] if lines else type(exc).__name__
    password = _password(url) if url else None
    if password is not None:
        # also as the driver may show it, decoded; a very short one would mask letters
        for form in {password, unquote(password)}:
            if len(form) >= 4:
                reason = reason.replace(form, MASK)
    return redact_secrets(reason)[:300]


def is_database_error(exc: BaseException) -> bool:
    module = type(exc).__module__.split(".")[0]
    return isinstance(exc, OSError | ValueError | sqlite3.Error) or module in (
        "psycopg",
        "psycopg_pool",
    )


def database_problem(url: str, exc: BaseException) -> str:
    if url.startswith("sqlite:"):
        fix = (
            "check EDITSERVE_DATABASE_URL and EDITSERVE_DATA_DIR: the database file's folder "
            "must exist or be creatable, and be writable by this process"
        )
    else:
        fix = (
            "check EDITSERVE_DATABASE_URL (host, port, user, password, database name) and "
            "that PostgreSQL is running and accepts connections from this machine"
        )
    return f"cannot open the database {redact(url)}: {error_reason(exc, url)}; {fix}"


def open_store_checked(settings: Settings, *, worker: bool = False) -> Store:
    """The store (migrations applied), or NodeRefused naming the database and the fix."""
    url = settings.resolved_database_url
    try:
        if not settings.data_dir.exists():  # ours to make: owner-only (secrets, api_key)
            settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return open_store(settings, worker=worker)
    except Exception as exc:
        if not is_database_error(exc):
            raise
        raise NodeRefused(database_problem(url, exc)) from None


def open_storage_checked(settings: Settings) -> BlobStorage:
    """The storage, proven usable (``BlobStorage.check``), or NodeRefused with the fix."""
    try:
        storage = open_storage(settings)
        storage.check()
    except StorageUnavailable as exc:
        raise NodeRefused(redact_secrets(str(exc))) from None
    except (OSError, ValueError) as exc:
        raise NodeRefused(
            f"cannot use the storage {redact(settings.resolved_storage_url)}: "
            f"{error_reason(exc, settings.resolved_storage_url)}; "
            "check EDITSERVE_STORAGE_URL (a folder this process can create and write, or "
            "s3://bucket/prefix)"
        ) from None
    return storage


def is_single_machine(settings: Settings) -> bool:
    """SQLite: one machine, whose `editserve serve` hands its settings to its workers."""
    return settings.resolved_database_url.startswith("sqlite:")


def agree_with_cluster(
    store: ClusterStore, settings: Settings, role: Role, name: str
) -> tuple[dict[str, ClusterFact], list[Mismatch]]:
    """Record the cluster record's missing facts (this node's values), then compare: the
    record's facts, and the differing settings this node adopted into it.

    A differing agreed setting refuses the start (NodeRefused), but for ``serve`` on SQLite
    (one machine, whose workers get its settings): there the record follows it, warned.
    """
    ours = agreed_facts(settings)
    facts = store.record_cluster_facts({CLUSTER_ID: new_cluster_id(), **ours}, name)
    mismatches = compare(ours, facts)
    if not mismatches:
        return facts, []
    if role != "api" or not is_single_machine(settings):
        raise NodeRefused(refusal(mismatches))
    facts = store.replace_cluster_facts({PREFIX + m.setting: m.ours for m in mismatches}, name)
    for mismatch in mismatches:
        log.warning(
            "%s changed from %s to %s (recorded for this machine's database)",
            mismatch.env,
            mismatch.recorded.value,
            mismatch.ours,
        )
    return facts, mismatches


def start_node(settings: Settings, role: Role) -> Node:
    """The start-up check of every node: the database, the storage, the agreed settings.

    Raises NodeRefused (the message says what to fix), having closed what it opened.
    """
    store = open_store_checked(settings, worker=role == "worker")
    try:
        storage = open_storage_checked(settings)
        name = node_name(settings)
        facts, adopted = agree_with_cluster(store, settings, role, name)
    except BaseException:
        store.close()
        raise
    return Node(settings, store, storage, name, facts, adopted)


__all__ = [
    "CLUSTER_ID",
    "agree_with_cluster",
    "Node",
    "NodeRefused",
    "database_problem",
    "error_reason",
    "is_database_error",
    "new_cluster_id",
    "node_name",
    "open_storage_checked",
    "open_store_checked",
    "redact",
    "start_node",
]
