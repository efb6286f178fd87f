"""Fetching one file into the cache: resumable, checked, safe beside other processes.

``HEAD /{repo}/resolve/{commit}/{path}`` (huggingface_hub's ``get_hf_file_metadata``) gives
the commit, the etag, the size and where the bytes are (the hub, or a CDN it redirects to);
they must match the file listing. The body is streamed with huggingface_hub's HTTP session
(``http_stream_backoff``: its proxies, headers and retries) in 1 MB pieces into
``blobs/<etag>.incomplete``, asking with ``Range: bytes=N-`` for what is not there yet —
after a dropped connection (up to 5 times in a row) or in a later run. The content is hashed
as it arrives (sha256 for LFS files, the git blob id for the others); only a file whose hash
equals its etag becomes the blob.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

from editserve.hub.plan import (
    HubError,
    RemoteFile,
    SourcePlan,
    endpoint_of,
    translate,
    transport_errors,
)

log = logging.getLogger("editserve.hub")

CHUNK = 8 * 1024 * 1024  # reading a partial file back (hashing)
BODY_CHUNK = 1024 * 1024  # progress and resume granularity of a download
RETRIES = 5  # dropped connections in a row before giving up (the next run resumes)
RETRY_PAUSE_SECONDS = 1.0
LOCK_POLL_SECONDS = 1.0


class TransferCancelled(Exception):
    """The fetch was asked to stop (Ctrl-C, shutdown); the partial file is kept."""


class DiskFull(HubError):
    """Writing failed for lack of space (or a file-size limit); the partial file is kept."""


class Digest:
    """The hash an etag is made of: sha256 for LFS files, the git blob id for the others."""

    def __init__(self, file: RemoteFile) -> None:
        self.file = file
        self.kind = "sha256" if file.lfs_sha256 else "git-sha1" if len(file.etag) == 40 else "size"
        self.reset()

    def reset(self) -> None:
        self._hash: Any = None
        if self.kind == "sha256":
            self._hash = hashlib.sha256()
        elif self.kind == "git-sha1":
            self._hash = hashlib.sha1(f"blob {self.file.size}\0".encode(), usedforsecurity=False)

    def update(self, data: bytes) -> None:
        if self._hash is not None:
            self._hash.update(data)

    def feed_file(self, path: Path, upto: int) -> None:
        """Hash the first `upto` bytes of a partial file (what a resumed download kept)."""
        self.reset()
        left = upto
        with path.open("rb") as handle:
            while left > 0 and (chunk := handle.read(min(CHUNK, left))):
                self.update(chunk)
                left -= len(chunk)

    def matches(self) -> bool:
        return self._hash is None or self._hash.hexdigest() == self.file.etag


class _Sink:
    """The partial file a download appends to: counts, hashes, and stops when asked."""

    def __init__(
        self,
        handle: BinaryIO,
        path: Path,
        digest: Digest,
        on_bytes: Callable[[int], None],
        cancelled: threading.Event,
    ) -> None:
        self.handle, self.path, self.digest = handle, path, digest
        self.on_bytes, self.cancelled = on_bytes, cancelled
        self.size = handle.tell()

    def write(self, data: bytes) -> None:
        if self.cancelled.is_set():
            raise TransferCancelled()
        try:
            self.handle.write(data)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
                raise DiskFull(
                    f"the disk is full (or a file-size limit was hit) writing {self.path}: "
                    f"{os.strerror(exc.errno or 0)}; free some space, then run `editserve pull` "
                    "again: it resumes from the bytes already written"
                ) from None
            raise
        self.size += len(data)
        self.digest.update(data)
        self.on_bytes(len(data))

    def restart(self) -> None:
        """The server ignored the Range header: start the file (and the hash) over."""
        dropped, self.size = self.size, 0
        self.handle.seek(0)
        self.handle.truncate(0)
        self.digest.reset()
        self.on_bytes(-dropped)


def fetch_file(
    plan: SourcePlan,
    file: RemoteFile,
    *,
    on_bytes: Callable[[int], None],
    cancelled: threading.Event,
    on_wait: Callable[[str | None], None] = lambda _who: None,
    endpoint: str | None = None,
    token: str | None = None,
) -> str:
    """Bring one file into the cache; returns how it was checked ("sha256", "git-sha1",
    "size" or "cached"). Holds huggingface_hub's lock of the blob meanwhile, so two
    processes (two workers of one host) never fetch the same file twice."""
    cache = plan.cache
    if plan.cached(file):
        return "cached"
    lock = cache.lock(file.etag)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with _locked(lock, cancelled, lambda: on_wait(file.path)):
        on_wait(None)
        blob = cache.blob(file.etag)
        if blob.is_file() and blob.stat().st_size == file.size:
            cache.link(plan.commit, file.path, file.etag)
            return "cached"
        checked = _download(plan, file, on_bytes, cancelled, endpoint, token)
        cache.link(plan.commit, file.path, file.etag)
        return checked


def _download(
    plan: SourcePlan,
    file: RemoteFile,
    on_bytes: Callable[[int], None],
    cancelled: threading.Event,
    endpoint: str | None,
    token: str | None,
) -> str:
    from huggingface_hub.file_download import get_hf_file_metadata
    from huggingface_hub.utils import build_hf_headers

    cache, source = plan.cache, plan.source
    endpoint = endpoint_of(endpoint)
    url = f"{endpoint}/{source.repo}/resolve/{plan.commit}/{quote(file.path)}"
    try:
        meta = get_hf_file_metadata(url, token=token, endpoint=endpoint)
    except Exception as exc:  # noqa: BLE001 - worded by translate()
        raise translate(exc, source, endpoint_of(endpoint)) from None
    _check_metadata(plan, file, meta.commit_hash, meta.etag, meta.size)
    location = meta.location or url
    headers = {**build_hf_headers(token=token), "Accept-Encoding": "identity"}
    if urlsplit(location).netloc != urlsplit(url).netloc:  # a CDN: the token stays home
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    partial = cache.partial(file.etag)
    partial.parent.mkdir(parents=True, exist_ok=True)
    if cache.partial_size(file.etag) > file.size:
        partial.unlink()
    digest = Digest(file)
    with partial.open("ab") as handle:
        if handle.tell():
            digest.feed_file(partial, handle.tell())
        sink = _Sink(handle, partial, digest, on_bytes, cancelled)
        _stream(location, sink, file, headers, plan, endpoint)
    if not digest.matches():
        partial.unlink(missing_ok=True)
        raise HubError(
            f"{source.repo}/{file.path} arrived corrupted (its {digest.kind} does not match "
            f"the hub's {file.etag[:16]}…); it was deleted: run the pull again"
        )
    os.chmod(partial, 0o644 & ~_umask())
    os.replace(partial, cache.blob(file.etag))
    return digest.kind


def _stream(
    url: str,
    sink: _Sink,
    file: RemoteFile,
    headers: dict[str, str],
    plan: SourcePlan,
    endpoint: str | None,
) -> None:
    """GET the bytes not on disk yet; after a dropped connection, ask for the rest."""
    from huggingface_hub import constants
    from huggingface_hub.utils import hf_raise_for_status, http_stream_backoff

    retries = RETRIES
    while sink.size < file.size:
        start = sink.size
        ranged = {**headers, "Range": f"bytes={start}-"} if start else headers
        try:
            with http_stream_backoff(
                "GET",
                url,
                headers=ranged,
                timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT,
                retry_on_exceptions=(),
                retry_on_status_codes=(408, 429, 500, 502, 503, 504),
            ) as response:
                hf_raise_for_status(response)
                if start and response.status_code != 206:
                    sink.restart()
                for chunk in response.iter_bytes(chunk_size=BODY_CHUNK):
                    sink.write(chunk)
                    retries = RETRIES
        except (TransferCancelled, HubError):
            raise
        except transport_errors() as exc:
            if retries <= 0:
                raise translate(exc, plan.source, endpoint_of(endpoint)) from None
            retries -= 1
            log.warning("%s: %s; resuming from byte %d", file.path, exc, sink.size)
            time.sleep(RETRY_PAUSE_SECONDS)
        except OSError as exc:
            raise HubError(f"{plan.source.repo}/{file.path}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - worded by translate()
            raise translate(exc, plan.source, endpoint_of(endpoint)) from None
        if sink.size > file.size:
            raise HubError(f"{plan.source.repo}/{file.path}: more bytes than the listing says")


def _check_metadata(
    plan: SourcePlan, file: RemoteFile, commit: str | None, etag: str | None, size: int | None
) -> None:
    where = f"{plan.source.repo}/{file.path}"
    if commit and commit != plan.commit:
        raise HubError(
            f"{where}: the hub answered for commit {commit[:12]}, not {plan.commit[:12]}"
        )
    if etag and etag != file.etag:
        raise HubError(f"{where}: the hub's etag {etag[:16]}… differs from its file listing's")
    if size is not None and size != file.size:
        raise HubError(f"{where}: the hub says {size} bytes, its file listing {file.size}")


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


class _locked:  # noqa: N801 - a context manager
    """huggingface_hub's blob lock, polled so a cancel is noticed while another process
    holds it."""

    def __init__(self, path: Path, cancelled: threading.Event, waiting: Callable[[], None]):
        from filelock import FileLock

        self.lock = FileLock(str(path), mode=0o664)
        self.cancelled, self.waiting = cancelled, waiting

    def __enter__(self) -> None:
        from filelock import Timeout

        first = True
        while True:
            if self.cancelled.is_set():
                raise TransferCancelled()
            try:
                self.lock.acquire(timeout=0 if first else LOCK_POLL_SECONDS)
                return
            except Timeout:
                if first:
                    self.waiting()
                first = False

    def __exit__(self, *_exc: object) -> None:
        self.lock.release()


__all__ = ["Digest", "DiskFull", "TransferCancelled", "fetch_file"]
