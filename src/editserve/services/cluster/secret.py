"""The URL-signing secret every API node shares, kept in the cluster record.

``EDITSERVE_SIGNING_SECRET``, when set, is used as is. Otherwise the cluster record holds
the secret: the first API node to start records it (insert-if-absent, so nodes starting
together agree on one) and every other node reads it, so a link one node signs verifies
on any other. A node that already has a ``data_dir/signing_secret`` file (a server from
before the cluster record) offers that one, so the links it handed out stay valid.
"""

from __future__ import annotations

import secrets

from editserve.blobs.signing import read_secret_file
from editserve.core.settings import Settings
from editserve.services.cluster.node import node_name
from editserve.store import ClusterStore

SIGNING_SECRET = "signing_secret"


def cluster_signing_secret(settings: Settings, store: ClusterStore, by: str | None = None) -> bytes:
    """The secret this node signs and verifies links with (see the module doc)."""
    if settings.signing_secret:
        return settings.signing_secret.encode("utf-8")
    recorded = store.cluster_facts().get(SIGNING_SECRET)
    if recorded is None:
        candidate = read_secret_file(settings.data_dir) or secrets.token_hex(32)
        facts = store.record_cluster_facts({SIGNING_SECRET: candidate}, by or node_name(settings))
        recorded = facts[SIGNING_SECRET]
    return recorded.value.encode("utf-8")


__all__ = ["SIGNING_SECRET", "cluster_signing_secret"]
