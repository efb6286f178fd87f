"""Who may use a stored blob as an input: the reads behind ``input_image`` links to this
server's own files and uploads (inputs/own_links.py), on any node.

- ``outputs/<generation_id>.<ext>`` and a layered model's ``outputs/<generation_id>-layer-
  <n>.<ext>`` (worker/batch.py names them so): one row by the generations id index, checked
  for owner and result key (or one of its layer keys).
- ``inputs/<sha256>.<ext>`` (content-addressed, shared by whoever sent the same bytes):
  the owner's uploads of that key, else the owner's generations whose stored inputs name
  it (read on the owner's generations index; stops at the first match).

Signed ``/files/`` links die with their key: ``blob_owners_revoked`` says when every key
that owns a blob is revoked (read from the store on each request, so every node agrees
at once).
"""

from __future__ import annotations

import re

from editserve.store.dialect import Dialect

OUTPUTS = "outputs/"
INPUTS = "inputs/"
# A layer of a generation's outputs: ``<generation_id>-layer-<n>`` (before the extension).
_LAYER = re.compile(r"-layer-[0-9]+$")


class LinkReads:
    """The blob-ownership reads of QueueStore (mixed in)."""

    dialect: Dialect

    def owns_blob(self, owner: str, key: str) -> bool:
        """Whether ``key`` is owner's output, or an input owner uploaded or edited with."""
        if key.startswith(OUTPUTS):
            generation_id = output_generation(key)
            if generation_id is None:
                return False
            row = self.dialect.one("owner_output", id=generation_id, owner=owner, key=key)
            return row is not None
        if key.startswith(INPUTS):
            row = self.dialect.one("owner_input", owner=owner, key=key)
            return bool(row and row["found"])
        return False

    def blob_owners_revoked(self, key: str) -> bool:
        """Whether the blob's owners are known and every one is a revoked key: an output's
        generation's key; for an input, every key that uploaded it or edited with it."""
        if key.startswith(OUTPUTS):
            generation_id = output_generation(key)
            if generation_id is None:
                return False
            row = self.dialect.one("output_owner_revoked", id=generation_id, key=key)
            return row is not None
        if key.startswith(INPUTS):
            row = self.dialect.one("input_owners_revoked", key=key)
            return bool(row and row["revoked"])
        return False

    def upload_owner(self, upload_id: str) -> str | None:
        """The key id that owns an upload, None if there is no such upload."""
        row = self.dialect.one("upload_owner", id=upload_id)
        return str(row["owner"]) if row else None


def output_generation(key: str) -> str | None:
    """The generation id of ``outputs/<generation_id>.<ext>`` or of one of its layers,
    ``outputs/<generation_id>-layer-<n>.<ext>``; None if it names none. (The store then
    checks that the key is that generation's.)"""
    generation_id = _LAYER.sub("", key[len(OUTPUTS) :].rpartition(".")[0])
    return generation_id if generation_id and "/" not in generation_id else None
