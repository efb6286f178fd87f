"""The live progress display of ``editserve edit``."""

from __future__ import annotations

import sys
import time
from typing import Any

from editserve.client._base import QUEUED_EVENT
from editserve.client._types import Event, EventType
from editserve.client.commands._common import err

__all__ = ["ProgressDisplay"]


class ProgressDisplay:
    """Live progress on stderr: a rich progress bar on a terminal, plain lines otherwise
    (``queued #2 (eta 30 s)``, ``denoising 12/40 (eta 9 s)``, ...)."""

    def __init__(self, generation_id: str, *, enabled: bool = True) -> None:
        self.generation_id = generation_id
        self.enabled = enabled
        self.interactive = enabled and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None
        self._last_line = ""
        self._first_step: tuple[float, int] | None = None

    def __enter__(self) -> ProgressDisplay:
        if self.interactive:
            try:
                self._start_rich()
            except ImportError:  # rich is optional: fall back to plain lines
                self.interactive = False
        if self.enabled and not self.interactive:
            err(f"generation {self.generation_id} submitted")
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
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._progress.start()
        self._task = self._progress.add_task("submitted", total=None)

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def on_event(self, event: Event) -> None:
        """Update the display from one event of the generation."""
        if not self.enabled:
            return
        if event.type == QUEUED_EVENT:
            position = event.data.get("queue_position")
            eta = event.data.get("eta_seconds")
            text = "queued" + (f" #{position + 1}" if isinstance(position, int) else "")
            self._update(text + (f" (eta {eta:.0f} s)" if eta else ""))
        elif event.type == EventType.STARTED:
            self._update(event.stage or "starting")
        elif event.type == EventType.PROGRESS:
            self._update(event.stage or "running", event.step, event.total)
        elif event.type == EventType.COMPLETED:
            done = event.status in ("succeeded", "completed")
            self._update(event.status or "done", finished=done)
        elif event.type == EventType.CANCELLED:
            self._update("cancelled")

    def _update(
        self,
        stage: str,
        step: int | None = None,
        total: int | None = None,
        *,
        finished: bool = False,
    ) -> None:
        if self._progress is not None:
            fields: dict[str, Any] = {"description": stage}
            if total:
                fields.update(total=total, completed=step or 0)
            if finished:
                task = self._progress.tasks[0]
                fields.update(total=task.total or 1, completed=task.total or 1)
            self._progress.update(self._task, **fields)
            return
        text = stage
        if total:
            text += f" {step}/{total}"
            eta = self._eta(step or 0, total)
            if eta is not None and eta >= 1:
                text += f" (eta {eta:.0f} s)"
        if text != self._last_line:
            self._last_line = text
            err(f"  {text}")

    def _eta(self, step: int, total: int) -> float | None:
        now = time.monotonic()
        if self._first_step is None or step < self._first_step[1]:
            self._first_step = (now, step)
            return None
        start, first = self._first_step
        if step <= first:
            return None
        return (now - start) / (step - first) * (total - step)
