"""What a fetch has to do: ask the hub which commit and files a source means, and compare
with what the cache already holds.

Hub calls (all through huggingface_hub, so ``HF_ENDPOINT``, ``HF_TOKEN`` and proxies apply):
``GET /api/models/{repo}/revision/{revision}`` (the commit a branch or tag points to) and
``GET /api/models/{repo}/tree/{commit}?recursive=true`` (paths, sizes, git and LFS ids).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from editserve.hub.cache import RepoCache
from editserve.hub.sources import HubFiles

COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


class HubError(Exception):
    """The hub refused or does not have what was asked; the message says what to change."""


class HubUnreachable(HubError):
    """The hub could not be reached (network, offline mode): the cache may still serve."""


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    etag: str  # the blob's name in the cache: LFS sha256, or the git blob id
    blob_id: str
    lfs_sha256: str | None = None
    xet_hash: str | None = None


@dataclass(frozen=True)
class SourcePlan:
    """One source resolved to a commit and its files, with what the cache holds of them."""

    source: HubFiles
    commit: str
    files: tuple[RemoteFile, ...]
    cache: RepoCache
    tree: tuple[RemoteFile, ...] = field(default=(), repr=False)  # every file at the commit

    def cached(self, file: RemoteFile) -> bool:
        return self.cache.has(self.commit, file.path, file.size)

    @property
    def missing(self) -> list[RemoteFile]:
        return [file for file in self.files if not self.cached(file)]

    @property
    def total_bytes(self) -> int:
        return sum(file.size for file in self.files)

    @property
    def present_bytes(self) -> int:
        """Bytes already here: cached files and the resumable part of the others."""
        missing = {file.path for file in self.missing}
        return sum(
            min(self.cache.partial_size(file.etag), file.size)
            if file.path in missing
            else file.size
            for file in self.files
        )

    @property
    def missing_bytes(self) -> int:
        return self.total_bytes - self.present_bytes

    def describe(self) -> dict[str, Any]:
        return {
            "repo": self.source.repo,
            "revision": self.source.ref,
            "commit": self.commit,
            "label": self.source.label,
            "files": len(self.files),
            "bytes": self.total_bytes,
            "missing_bytes": self.missing_bytes,
            "path": str(self.cache.snapshot(self.commit)),
        }


def endpoint_of(endpoint: str | None) -> str:
    from huggingface_hub import constants

    return (endpoint or constants.ENDPOINT).rstrip("/")


def plan_source(
    source: HubFiles, *, cache_dir: Path, endpoint: str | None = None, token: str | None = None
) -> SourcePlan:
    """Resolve the source's revision to a commit and list its files (two hub calls)."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=endpoint, token=token)
    with _hub_errors(source, endpoint):
        commit = source.ref
        if not COMMIT_RE.match(commit):
            info = api.repo_info(source.repo, revision=source.ref)
            if not info.sha:
                raise HubError(f"{endpoint_of(endpoint)} gave no commit for {source.describe()}")
            commit = info.sha
        entries = api.list_repo_tree(source.repo, revision=commit, recursive=True)
        tree = tuple(_remote(entry) for entry in entries if isinstance(entry, RepoFile))
    by_path = {file.path: file for file in tree}
    if source.files is None:
        files = tree
    else:
        absent = [path for path in source.files if path not in by_path]
        if absent:
            raise HubError(
                f"{source.repo}@{commit[:12]} has no file {', '.join(absent)} "
                f"(asked for by the {source.label}); check the file name and revision"
            )
        files = tuple(by_path[path] for path in source.files)
    return SourcePlan(source, commit, files, RepoCache(cache_dir, source.repo), tree)


def _remote(entry: Any) -> RemoteFile:
    lfs = entry.lfs
    return RemoteFile(
        path=entry.path,
        size=int(lfs.size if lfs is not None else entry.size),
        etag=lfs.sha256 if lfs is not None else entry.blob_id,
        blob_id=entry.blob_id,
        lfs_sha256=lfs.sha256 if lfs is not None else None,
        xet_hash=getattr(entry, "xet_hash", None),
    )


class _hub_errors:  # noqa: N801 - used as a context manager
    """huggingface_hub's errors as HubError / HubUnreachable, worded for the operator."""

    def __init__(self, source: HubFiles, endpoint: str | None) -> None:
        self.source = source
        self.endpoint = endpoint_of(endpoint)

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, _tb: Any
    ) -> None:
        if exc is None or isinstance(exc, HubError) or not isinstance(exc, Exception):
            return  # nothing to translate: it goes on as it is
        raise translate(exc, self.source, self.endpoint) from None


def transport_errors() -> tuple[type[Exception], ...]:
    """The HTTP client's network errors (huggingface_hub 2 uses httpx2, 1.x httpx)."""
    import importlib

    kinds: list[type[Exception]] = [ConnectionError, TimeoutError]
    for name in ("httpx2", "httpx"):
        try:
            kinds.append(importlib.import_module(name).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(kinds)


def translate(exc: Exception, source: HubFiles, endpoint: str) -> HubError:
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = source.describe()
    if isinstance(exc, GatedRepoError):
        return HubError(f"{source.repo} is gated on {endpoint}: accept its terms and set HF_TOKEN")
    if isinstance(exc, RevisionNotFoundError):
        return HubError(f"revision {source.ref!r} of {source.repo} does not exist on {endpoint}")
    if isinstance(exc, RepositoryNotFoundError):
        return HubError(
            f"{source.repo} was not found on {endpoint} (or it is private: set HF_TOKEN)"
        )
    if isinstance(exc, OfflineModeIsEnabled):
        return HubUnreachable(f"HF_HUB_OFFLINE is set, so {where} cannot be fetched")
    if isinstance(exc, transport_errors()):
        return HubUnreachable(f"cannot reach {endpoint} for {where}: {_first_line(exc)}")
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        return HubUnreachable(f"{endpoint} answered {status} for {where}: {_first_line(exc)}")
    return HubError(f"could not read {where} from {endpoint}: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__


@dataclass(frozen=True)
class CacheState:
    """What the cache holds of a source without asking the hub (for offline checks)."""

    source: HubFiles
    commit: str | None  # None: the revision was never fetched here
    missing: tuple[str, ...]  # files known to be missing
    complete: bool | None  # None: no file listing is cached, so completeness is unknown
    present_bytes: int


def cache_state(source: HubFiles, cache_dir: Path) -> CacheState:
    """Look in the cache only: the commit the revision was fetched at, and which files of
    it are there (the listing comes from huggingface_hub's tree cache when present)."""
    cache = RepoCache(cache_dir, source.repo)
    commit = source.ref if COMMIT_RE.match(source.ref) else cache.read_ref(source.ref)
    if commit is None or not cache.snapshot(commit).is_dir():
        return CacheState(source, None, tuple(source.files or ()), False, 0)
    sizes: dict[str, int | None] = {path: None for path in source.files or ()}
    if source.files is None:
        sizes = _cached_tree(source.repo, commit, cache_dir) or {}
        if not sizes:  # no listing: at least a pipeline's index must be there
            present = sum(
                p.stat().st_size for p in cache.snapshot(commit).rglob("*") if p.is_file()
            )
            return CacheState(source, commit, (), None, present)
    missing = tuple(path for path, size in sizes.items() if not cache.has(commit, path, size))
    present = sum(
        cache.pointer(commit, path).stat().st_size for path in sizes if path not in missing
    )
    return CacheState(source, commit, missing, not missing, present)


def _cached_tree(repo: str, commit: str, cache_dir: Path) -> dict[str, int | None] | None:
    try:
        from huggingface_hub import get_cached_repo_tree

        return {
            f.path: int(f.size)
            for f in get_cached_repo_tree(repo, revision=commit, cache_dir=cache_dir)
        }
    except Exception:  # noqa: BLE001 - no listing cached (or an older huggingface_hub)
        return None


__all__ = [
    "COMMIT_RE",
    "CacheState",
    "HubError",
    "HubUnreachable",
    "RemoteFile",
    "SourcePlan",
    "cache_state",
    "endpoint_of",
    "plan_source",
    "translate",
    "transport_errors",
]
