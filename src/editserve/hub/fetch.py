"""Fetching what a model needs into the Hugging Face cache, with progress and a disk check.

    plans = plan_all(sources, cache_dir=...)       # the hub: commits, files, sizes
    check_disk(plans, cache_dir, keep_free=...)     # refuse before writing a byte
    report = Fetcher(plans, on_progress=...).run()  # resumable; verified; refs written

Used by ``editserve pull`` (a progress bar) and by a worker's start-up (its ``downloading``
stage, with the same figures). Model-neutral: the sources come from the model's spec.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from editserve.domain.stages import fmt_bytes
from editserve.hub.cache import free_bytes
from editserve.hub.plan import HubError, RemoteFile, SourcePlan, plan_source
from editserve.hub.sources import HubFiles
from editserve.hub.transfer import TransferCancelled, fetch_file

# After Ctrl-C, how long transfers get to stop before the fetch gives up waiting for them.
INTERRUPT_GRACE_SECONDS = 3.0


class NotEnoughDisk(HubError):
    """The cache's disk cannot hold what is missing; nothing was written."""


@dataclass
class Progress:
    """Where a fetch is: bytes (including what earlier runs left), files, speed."""

    bytes_total: int
    bytes_done: int
    files_total: int
    files_done: int = 0
    session_bytes: int = 0  # transferred by this run (speed and ETA)
    started: float = field(default_factory=time.monotonic)
    current: list[str] = field(default_factory=list)
    waiting_for: str | None = None  # a file another process is fetching

    @property
    def bytes_per_second(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.session_bytes / elapsed if elapsed > 0.5 else 0.0

    def detail(self) -> dict[str, Any]:
        """The figures of a worker's ``downloading`` stage."""
        detail: dict[str, Any] = {
            "bytes_done": self.bytes_done,
            "bytes_total": self.bytes_total,
            "files_done": self.files_done,
            "files_total": self.files_total,
            "bytes_per_second": round(self.bytes_per_second),
        }
        if self.current:
            detail["file"] = self.current[0]
        if self.waiting_for:
            detail["waiting_for"] = f"another process fetching {self.waiting_for}"
        return detail


ProgressCallback = Callable[[Progress], None]


def plan_all(
    sources: Sequence[HubFiles],
    *,
    cache_dir: Path,
    endpoint: str | None = None,
    token: str | None = None,
) -> list[SourcePlan]:
    return [
        plan_source(source, cache_dir=cache_dir, endpoint=endpoint, token=token)
        for source in sources
    ]


def bytes_to_fetch(plans: Sequence[SourcePlan]) -> int:
    """What is missing, counting a blob shared by two sources once."""
    needed: dict[str, int] = {}
    for plan in plans:
        for file in plan.missing:
            needed[file.etag] = file.size - min(plan.cache.partial_size(file.etag), file.size)
    return sum(needed.values())


def check_disk(plans: Sequence[SourcePlan], cache_dir: Path, *, keep_free: int = 0) -> None:
    """Raise NotEnoughDisk unless the missing bytes (plus keep_free) fit on the disk."""
    needed = bytes_to_fetch(plans)
    if needed == 0:
        return
    free = free_bytes(cache_dir)
    if needed + keep_free > free:
        keeping = f" and {fmt_bytes(keep_free)} must stay free" if keep_free else ""
        raise NotEnoughDisk(
            f"not enough disk space: the download needs {fmt_bytes(needed)} more in "
            f"{cache_dir}, which has {fmt_bytes(free)} free{keeping}. Free some space, or put "
            "the Hugging Face cache on a larger disk (export HF_HUB_CACHE=/bigdisk/hf) and run "
            "it again"
        )


@dataclass(frozen=True)
class FetchReport:
    sources: list[dict[str, Any]]
    downloaded_bytes: int
    seconds: float


class Fetcher:
    """Fetch every missing file of the plans (a few at a time), then check the result."""

    def __init__(
        self,
        plans: Sequence[SourcePlan],
        *,
        on_progress: ProgressCallback = lambda _p: None,
        cancelled: threading.Event | None = None,
        max_workers: int = 4,
        endpoint: str | None = None,
        token: str | None = None,
    ) -> None:
        self.plans = list(plans)
        self.on_progress = on_progress
        self.cancelled = cancelled or threading.Event()
        self.max_workers = max(1, max_workers)
        self.endpoint, self.token = endpoint, token
        self.checks: dict[str, str] = {}
        self._lock = threading.Lock()
        # bytes counted as done per missing file (what earlier runs left), to settle at the end
        self._counted = {
            (plan.source.repo, file.path): min(plan.cache.partial_size(file.etag), file.size)
            for plan in self.plans
            for file in plan.missing
        }
        self.progress = Progress(
            bytes_total=sum(plan.total_bytes for plan in self.plans),
            bytes_done=sum(plan.present_bytes for plan in self.plans),
            files_total=sum(len(plan.files) for plan in self.plans),
            files_done=sum(len(plan.files) - len(plan.missing) for plan in self.plans),
        )

    def run(self) -> FetchReport:
        """Fetch, verify, record the refs. Ctrl-C (KeyboardInterrupt) or ``cancelled``
        stops every transfer at its next chunk, keeping the partial files."""
        started = time.monotonic()
        self.on_progress(self.progress)
        jobs = [(plan, file) for plan in self.plans for file in plan.missing]
        if jobs:
            self._run_jobs(jobs)
        for plan in self.plans:
            verify(plan)
            record(plan)
        return FetchReport(
            sources=[{**plan.describe(), "missing_bytes": 0} for plan in self.plans],
            downloaded_bytes=self.progress.session_bytes,
            seconds=round(time.monotonic() - started, 3),
        )

    def _run_jobs(self, jobs: list[tuple[SourcePlan, RemoteFile]]) -> None:
        pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="fetch")
        futures = [pool.submit(self._one, plan, file) for plan, file in jobs]
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # Ctrl-C: stop every transfer at its next piece, keep the rest
            self.cancelled.set()
            wait(futures, timeout=INTERRUPT_GRACE_SECONDS)  # a stalled read may not return
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        error = next((f.exception() for f in done if f.exception()), None)
        if error is not None:
            self.cancelled.set()
            wait(futures)
        pool.shutdown()
        if error is not None:
            raise _first_real(futures, error)

    def _one(self, plan: SourcePlan, file: RemoteFile) -> None:
        key = (plan.source.repo, file.path)
        with self._lock:
            self.progress.current.append(file.path)
        try:
            self.checks[file.path] = fetch_file(
                plan,
                file,
                on_bytes=lambda count: self._bytes(key, count),
                cancelled=self.cancelled,
                on_wait=self._waiting,
                endpoint=self.endpoint,
                token=self.token,
            )
        finally:
            with self._lock:
                self.progress.current.remove(file.path)
        with self._lock:  # settle: the file counts exactly its size now
            self.progress.files_done += 1
            self.progress.bytes_done += file.size - self._counted.get(key, 0)
            self._counted[key] = file.size
        self.on_progress(self.progress)

    def _bytes(self, key: tuple[str, str], count: int) -> None:
        with self._lock:
            self.progress.bytes_done += count
            self.progress.session_bytes += count
            self._counted[key] = self._counted.get(key, 0) + count
        self.on_progress(self.progress)

    def _waiting(self, path: str | None) -> None:
        with self._lock:
            self.progress.waiting_for = path
        self.on_progress(self.progress)


def _first_real(futures: list[Future[None]], error: BaseException) -> BaseException:
    """The error that stopped the fetch, not the cancellations it caused."""
    if not isinstance(error, TransferCancelled):
        return error
    for future in futures:
        exc = future.exception()
        if exc is not None and not isinstance(exc, TransferCancelled):
            return exc
    return error


def verify(plan: SourcePlan) -> None:
    """Every file of the plan is in the snapshot, with its size."""
    absent = [file.path for file in plan.files if not plan.cached(file)]
    if absent:
        raise HubError(
            f"{plan.source.describe()} is incomplete after the fetch "
            f"({len(absent)} file(s) missing, e.g. {absent[0]}): run it again"
        )


def record(plan: SourcePlan) -> None:
    """Point the revision's ref at the commit and cache the file listing, so loaders find the
    snapshot offline (huggingface_hub's snapshot_download checks a snapshot against it)."""
    plan.cache.write_ref(plan.source.ref, plan.commit)
    if not plan.source.whole_repo or not plan.tree:
        return
    try:
        from huggingface_hub._tree_cache import TreeCacheEntry, write_tree_cache
    except ImportError:  # an older huggingface_hub keeps no listing
        return
    entries = {
        file.path: TreeCacheEntry(
            size=file.size,
            blob_id=file.blob_id,
            lfs_sha256=file.lfs_sha256,
            lfs_size=file.size if file.lfs_sha256 else None,
            xet_hash=file.xet_hash,
        )
        for file in plan.tree
    }
    write_tree_cache(str(plan.cache.root), plan.commit, entries)


__all__ = [
    "FetchReport",
    "Fetcher",
    "NotEnoughDisk",
    "Progress",
    "ProgressCallback",
    "bytes_to_fetch",
    "check_disk",
    "plan_all",
    "record",
    "verify",
]
