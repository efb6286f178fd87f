"""Where a worker's start-up is: the stages, their figures, and one line for people.

A worker reports each stage through the store (``Store.report_worker_stage``), so
``/readyz``, the model cards, ``editserve status`` and the workbench show it on any node:

    starting ─▶ downloading ─▶ loading ─▶ applying_options ─▶ warming_up ─▶ ready
       (bytes done/total) (component k of n) (LoRA fuse, FP8, …)  (run k of n)
                                      any of them ──▶ failed (with the reason)

The figures (``detail``) are plain JSON. Nothing here imports torch or the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

log = logging.getLogger("editserve.domain.stages")


class Stage(StrEnum):
    STARTING = "starting"
    DOWNLOADING = "downloading"
    LOADING = "loading"
    APPLYING_OPTIONS = "applying_options"
    WARMING_UP = "warming_up"
    READY = "ready"
    FAILED = "failed"


# The order a start-up goes through (failed is not on it).
ORDER = (
    Stage.STARTING,
    Stage.DOWNLOADING,
    Stage.LOADING,
    Stage.APPLYING_OPTIONS,
    Stage.WARMING_UP,
    Stage.READY,
)

# Called by a model adapter's load sequence: (stage, figures). Must not raise.
StageCallback = Callable[[str, dict[str, Any]], None]


def ignore_stage(stage: str, detail: dict[str, Any]) -> None:
    """A StageCallback that reports nowhere."""
    return None


def rank(stage: str | None) -> int:
    """How far along a stage is (failed and unknown stages rank lowest)."""
    try:
        return ORDER.index(Stage(stage)) + 1 if stage else 0
    except ValueError:
        return 0


def fraction(detail: dict[str, Any] | None) -> float | None:
    """How much of the stage is done (0..1), when its figures say so."""
    if not detail:
        return None
    for done, total in (("bytes_done", "bytes_total"), ("index", "count"), ("run", "runs")):
        if isinstance(detail.get(total), int | float) and detail[total] > 0:
            return max(0.0, min(1.0, float(detail.get(done) or 0) / float(detail[total])))
    return None


def fmt_bytes(value: float | int | None) -> str:
    """1234567 → '1.2 MB' (decimal units, as disk and GPU makers count)."""
    if value is None:
        return "?"
    amount = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(amount) < 1000 or unit == "TB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{amount:.1f} TB"  # pragma: no cover - the loop always returns


def describe(stage: str | None, detail: dict[str, Any] | None = None) -> str:
    """One line for people: 'downloading 1.2 GB of 57.7 GB (2%, file 3 of 17)'."""
    detail = detail or {}
    if not stage:
        return "unknown"
    text = _DESCRIBE.get(stage, _plain)(stage, detail)
    return text


def _plain(stage: str, detail: dict[str, Any]) -> str:
    return stage.replace("_", " ")


def _downloading(stage: str, detail: dict[str, Any]) -> str:
    done, total = detail.get("bytes_done"), detail.get("bytes_total")
    text = f"downloading {fmt_bytes(done)} of {fmt_bytes(total)}"
    share = fraction(detail)
    parts = [f"{share:.0%}"] if share is not None else []
    if detail.get("files_total"):
        parts.append(f"{detail.get('files_done', 0)} of {detail['files_total']} files")
    if detail.get("bytes_per_second"):
        parts.append(f"{fmt_bytes(detail['bytes_per_second'])}/s")
    if detail.get("waiting_for"):
        parts.append(f"waiting for {detail['waiting_for']}")
    return text + (f" ({', '.join(parts)})" if parts else "")


def _loading(stage: str, detail: dict[str, Any]) -> str:
    if detail.get("count"):
        return (
            f"loading component {detail.get('index', 0)} of {detail['count']}"
            f" ({detail.get('component', '?')})"
        )
    return "loading" + (f" {detail['what']}" if detail.get("what") else "")


def _applying(stage: str, detail: dict[str, Any]) -> str:
    step = detail.get("step")
    if not step:
        return "applying options"
    return f"applying options: {step} ({detail.get('index', 0)} of {detail.get('count', 0)})"


def _warming(stage: str, detail: dict[str, Any]) -> str:
    text = f"warming up (run {detail.get('run', 0)} of {detail.get('runs', 0)}"
    if detail.get("width") and detail.get("height"):
        text += f", {detail['width']}x{detail['height']}"
    if detail.get("compiles"):
        text += ", compiling"
    return text + ")"


def _ready(stage: str, detail: dict[str, Any]) -> str:
    seconds = detail.get("seconds")
    return f"ready in {seconds:.0f}s" if isinstance(seconds, int | float) else "ready"


def _failed(stage: str, detail: dict[str, Any]) -> str:
    return f"failed: {detail['reason']}" if detail.get("reason") else "failed"


_DESCRIBE: dict[str, Callable[[str, dict[str, Any]], str]] = {
    Stage.DOWNLOADING: _downloading,
    Stage.LOADING: _loading,
    Stage.APPLYING_OPTIONS: _applying,
    Stage.WARMING_UP: _warming,
    Stage.READY: _ready,
    Stage.FAILED: _failed,
}


class StageReporter:
    """A StageCallback that writes through ``write`` (the store), at most once per
    ``min_interval`` seconds while the stage stays the same (a download reports many
    times a second); a new stage is written at once. Write errors are logged, never
    raised: a report must not stop a start-up."""

    def __init__(
        self,
        write: Callable[[str, dict[str, Any]], None],
        *,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self._min_interval = min_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last: tuple[str, float] | None = None
        self._pending = False  # an update held back, for flush()
        self.stage: str | None = None
        self.detail: dict[str, Any] = {}

    def __call__(self, stage: str, detail: dict[str, Any] | None = None) -> None:
        stage = str(stage)
        detail = dict(detail or {})
        with self._lock:
            now = self._clock()
            self.stage, self.detail = stage, detail
            if (
                self._last is not None
                and self._last[0] == stage
                and now - self._last[1] < self._min_interval
            ):
                self._pending = True
                return
            self._last, self._pending = (stage, now), False
        self._send(stage, detail)

    def flush(self) -> None:
        """Write an update held back, once its interval is over (call it now and then: a
        stalled download sends no further update that would carry it)."""
        with self._lock:
            now = self._clock()
            due = self._last is None or now - self._last[1] >= self._min_interval
            if not self._pending or not due or self.stage is None:
                return
            stage, detail = self.stage, self.detail
            self._last, self._pending = (stage, now), False
        self._send(stage, detail)

    def _send(self, stage: str, detail: dict[str, Any]) -> None:
        try:
            self._write(stage, detail)
        except Exception as exc:  # noqa: BLE001 - reporting must not stop the start-up
            log.warning("could not report the start-up stage %s: %s", stage, exc)


__all__ = [
    "ORDER",
    "Stage",
    "StageCallback",
    "StageReporter",
    "describe",
    "fmt_bytes",
    "fraction",
    "ignore_stage",
    "rank",
]
