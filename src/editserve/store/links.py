"""Who may use a stored blob as an input: the reads behind ``input_image`` links to this
server's own files and uploads (inputs/own_links.py), on any node.

- ``outputs/<generation_id>.<ext>`` (worker/batch.py names them so): one row by the
  generations id index, checked for owner and result key.
- ``inputs/<sha256>.<ext>`` (content-addressed, shared by whoever sent the same bytes):
  the owner's uploads of that key, else the owner's generations whose stored inputs name
  it (read on the owner's generations index; stops at the first match).
"""

from __future__ import annotations

from editserve.store.dialect import Dialect

OUTPUTS = "outputs/"
INPUTS = "inputs/"


class LinkReads:
    """The blob-ownership reads of QueueStore (mixed in)."""

    dialect: Dialect

    def owns_blob(self, owner: str, key: str) -> bool:
        """Whether ``key`` is owner's output, or an input owner uploaded or edited with."""
        if key.startswith(OUTPUTS):
            generation_id = key[len(OUTPUTS) :].rpartition(".")[0]
            if not generation_id or "/" in generation_id:
                return False
            row = self.dialect.one("owner_output", id=generation_id, owner=owner, key=key)
            return row is not None
        if key.startswith(INPUTS):
            row = self.dialect.one("owner_input", owner=owner, key=key)
            return bool(row and row["found"])
        return False

    def upload_owner(self, upload_id: str) -> str | None:
        """The key id that owns an upload, None if there is no such upload."""
        row = self.dialect.one("upload_owner", id=upload_id)
        return str(row["owner"]) if row else None
