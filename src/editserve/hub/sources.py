"""What a model needs from a Hugging Face Hub repo: the repo, a revision, which files.

A model's spec lists these (``ModelSpec.weights_source``); ``editserve pull`` and a worker's
start-up fetch them with :mod:`editserve.hub.fetch`. Nothing here talks to the network.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_REVISION = "main"


@dataclass(frozen=True)
class HubFiles:
    """Files of one hub repo at one revision.

    ``files`` None means the whole repo at that revision (a saved pipeline is loaded from
    its snapshot folder, so every file of it is fetched); otherwise only the listed paths.
    """

    repo: str
    revision: str | None = None  # branch, tag or commit; None: the default branch
    files: tuple[str, ...] | None = None
    label: str = "weights"

    @property
    def ref(self) -> str:
        return self.revision or DEFAULT_REVISION

    @property
    def whole_repo(self) -> bool:
        return self.files is None

    def describe(self) -> str:
        where = f"{self.repo}@{self.ref}"
        if self.files is not None and len(self.files) == 1:
            where += f" {self.files[0]}"
        elif self.files is not None:
            where += f" ({len(self.files)} files)"
        return where


__all__ = ["DEFAULT_REVISION", "HubFiles"]
