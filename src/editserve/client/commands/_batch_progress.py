"""The live progress of ``editserve batch run``: items done and failed out of all, and an
ETA, as a rich progress bar on a terminal or plain lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any

from editserve.client._batch_types import Batch
from editserve.client.commands._common import err

__all__ = ["BatchProgress"]


class BatchProgress:
    """``done 120/500, failed 2 (eta 95 s)``: ``done_before`` items were done by earlier
    runs; the rest are the items of the batches followed."""

    def __init__(self, done_before: int, *, enabled: bool = True) -> None:
        self.done_before = done_before
        self.enabled = enabled
        self.interactive = enabled and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None
        self._last_line = ""
        self._start: tuple[float, int] | None = None

    def __enter__(self) -> BatchProgress:
        if self.interactive:
            try:
                self._start_rich()
            except ImportError:  # rich is optional: fall back to plain lines
                self.interactive = False
        return self

    def _start_rich(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("failed {task.fields[failed]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._progress.start()
        self._task = self._progress.add_task("starting", total=None, failed=0)

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def stage(self, text: str, done: int | None = None, total: int | None = None) -> None:
        """A step before the batch runs (``uploading 3/12``)."""
        if not self.enabled:
            return
        if self._progress is not None:
            self._progress.update(self._task, description=text, completed=done or 0, total=total)
            return
        self._line(f"{text} {done}/{total}" if total else text)

    def update(self, batches: Iterable[Batch]) -> None:
        """The items of ``batches`` ended so far (with those done before)."""
        if not self.enabled:
            return
        batches = list(batches)
        total = self.done_before + sum(b.counts.total for b in batches)
        done = self.done_before + sum(b.counts.ended for b in batches)
        failed = sum(b.counts.failed + b.counts.cancelled for b in batches)
        running = sum(b.counts.processing for b in batches)
        if self._progress is not None:
            self._progress.update(
                self._task, description="running", completed=done, total=total, failed=failed
            )
            return
        text = f"done {done}/{total}, failed {failed}, running {running}"
        eta = self._eta(done, total)
        self._line(text + (f" (eta {eta:.0f} s)" if eta is not None else ""))

    def _eta(self, done: int, total: int) -> float | None:
        now = time.monotonic()
        if self._start is None:
            self._start = (now, done)
            return None
        began, first = self._start
        if done <= first or now <= began:
            return None
        return (now - began) / (done - first) * (total - done)

    def _line(self, text: str) -> None:
        key = text.split(" (eta")[0]
        if key != self._last_line:
            self._last_line = key
            err(f"  {text}")
