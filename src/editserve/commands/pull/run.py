"""What ``editserve pull`` runs: the weights of the configured (or named) models, into the
Hugging Face cache, before anything starts — with bytes, speed and ETA, resumable, pinned,
verified.

What a model needs comes from its spec (``ModelSpec.weights_source``); this module only
plans (the hub's commit and file list), checks the disk, fetches and reports.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from editserve.core.errors import NotFound
from editserve.core.settings import Settings
from editserve.domain.stages import fmt_bytes
from editserve.hub.cache import default_cache_dir, free_bytes
from editserve.hub.fetch import Fetcher, Progress, bytes_to_fetch, check_disk, plan_all
from editserve.hub.plan import COMMIT_RE, HubError, SourcePlan
from editserve.hub.sources import HubFiles
from editserve.hub.transfer import TransferCancelled
from editserve.models.annotators.registry import weights_sources as annotator_sources
from editserve.models.registry import ModelRegistry, default_registry, served_registry

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


class PullFailed(Exception):
    """The pull cannot go on; the message says why and what to do."""


@dataclass
class PullOptions:
    models: list[str] = field(default_factory=list)
    as_json: bool = False
    keep_free: int = 0
    max_workers: int = 4
    cache_dir: Path | None = None
    endpoint: str | None = None
    annotators: bool = False  # also the control-map annotators' weights (depth, pose)


def allow_downloads() -> bool:
    """A pull is a request to download: an HF_HUB_OFFLINE left exported (as the GPU guide
    suggests after the first pull) is lifted for this process. True if it was set. Call it
    before huggingface_hub is imported (it reads the variable once)."""
    value = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    if value not in {"1", "true", "yes", "on"}:
        return False
    os.environ["HF_HUB_OFFLINE"] = "0"
    return True


def parse_size(text: str) -> int:
    """'10GB', '500 MB', '1.5G', '0' → bytes (decimal units; GiB/MiB binary)."""
    value = text.strip().upper().replace(" ", "").removesuffix("B")
    units = {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "KI": 2**10, "MI": 2**20, "GI": 2**30}
    for suffix in sorted(units, key=len, reverse=True):
        if value.endswith(suffix):
            return int(float(value.removesuffix(suffix)) * units[suffix])
    return int(float(value or 0))


def model_sources(
    settings: Settings, names: list[str], registry: ModelRegistry | None = None
) -> list[tuple[str, list[HubFiles]]]:
    """(model id, its hub sources) for the named models, or every configured one."""
    registry = registry or default_registry()
    try:
        specs = (
            [registry.get(name) for name in names]
            if names
            else served_registry(settings, registry).all()
        )
    except NotFound as exc:
        known = ", ".join(spec.id for spec in registry.all())
        raise PullFailed(f"{exc}; the models here are: {known}") from None
    found = []
    for spec in specs:
        try:
            found.append((spec.id, spec.weights_source(settings.for_model(spec.id))))
        except ValueError as exc:
            raise PullFailed(f"{spec.id}: {exc}") from None
    return found


class _Display:
    """Progress for people (a rich bar on stderr) or nothing (--json)."""

    def __init__(self, as_json: bool) -> None:
        from rich.console import Console

        self.as_json = as_json
        self.console = Console(stderr=True, highlight=False, soft_wrap=True)
        self._bar: Any = None
        self._task: Any = None
        self._last = 0.0

    def say(self, text: str) -> None:
        if not self.as_json:
            self.console.print(text, markup=False)

    def start(self, progress: Progress) -> None:
        if self.as_json:
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as Bar

        self._bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        self._bar.start()
        self._task = self._bar.add_task(
            self._describe(progress), total=progress.bytes_total, completed=progress.bytes_done
        )

    def update(self, progress: Progress) -> None:
        now = time.monotonic()
        if self._bar is None or (
            now - self._last < 0.1 and progress.files_done < progress.files_total
        ):
            return
        self._last = now
        self._bar.update(
            self._task, completed=progress.bytes_done, description=self._describe(progress)
        )

    def stop(self, progress: Progress | None = None) -> None:
        if self._bar is not None:
            if progress is not None:
                self._bar.update(
                    self._task, completed=progress.bytes_done, description=self._describe(progress)
                )
            self._bar.stop()
            self._bar = None

    @staticmethod
    def _describe(progress: Progress) -> str:
        text = f"files {progress.files_done}/{progress.files_total}"
        if progress.waiting_for:
            text += " (waiting: another process fetches one)"
        return text


def _plan(sources: list[HubFiles], options: PullOptions, cache_dir: Path) -> list[SourcePlan]:
    try:
        return plan_all(sources, cache_dir=cache_dir, endpoint=options.endpoint)
    except HubError as exc:
        raise PullFailed(str(exc)) from None


def _show_plan(display: _Display, plans: list[SourcePlan], cache_dir: Path) -> None:
    display.say(f"Hugging Face cache: {cache_dir} ({fmt_bytes(free_bytes(cache_dir))} free)")
    for plan in plans:
        pinned = "" if plan.source.ref == plan.commit else f" = {plan.commit[:12]}"
        state = (
            "in the cache"
            if not plan.missing_bytes
            else f"{fmt_bytes(plan.missing_bytes)} to download"
        )
        display.say(
            f"  {plan.source.label}: {plan.source.repo}@{plan.source.ref}{pinned} — "
            f"{len(plan.files)} files, {fmt_bytes(plan.total_bytes)}, {state}"
        )


def run_pull(settings: Settings, options: PullOptions) -> int:
    """Plan, check the disk, fetch, verify; print for people or one JSON document."""
    display = _Display(options.as_json)
    started = time.monotonic()
    try:
        result = _pull(settings, options, display)
    except KeyboardInterrupt:
        return _finish(display, options, {"status": "interrupted", "error": _INTERRUPTED})
    except (PullFailed, HubError) as exc:
        return _finish(display, options, {"status": "error", "error": str(exc)})
    result["seconds"] = round(time.monotonic() - started, 3)
    return _finish(display, options, result)


_INTERRUPTED = "interrupted: what was downloaded is kept; run `editserve pull` again to resume"


def _pull(settings: Settings, options: PullOptions, display: _Display) -> dict[str, Any]:
    cache_dir = options.cache_dir or default_cache_dir()
    models = model_sources(settings, options.models)
    extra = annotator_sources() if options.annotators else []
    sources = [source for _, found in models for source in found] + extra
    if not sources:
        display.say(
            "Nothing to download: the models here load local or development weights "
            f"(EDITSERVE_MODEL_WEIGHTS={settings.model_weights})."
        )
        return {
            "status": "ok",
            "cache_dir": str(cache_dir),
            "models": [],
            "annotators": [],
            "downloaded_bytes": 0,
        }
    plans = _plan(sources, options, cache_dir)
    _show_plan(display, plans, cache_dir)
    check_disk(plans, cache_dir, keep_free=options.keep_free)
    cancelled = threading.Event()
    fetcher = Fetcher(
        plans,
        on_progress=display.update,
        cancelled=cancelled,
        max_workers=options.max_workers,
        endpoint=options.endpoint,
    )
    if bytes_to_fetch(plans):
        display.start(fetcher.progress)
    try:
        report = fetcher.run()
    except TransferCancelled:
        raise KeyboardInterrupt from None
    finally:
        display.stop(fetcher.progress)
    _show_done(display, plans, settings, report.downloaded_bytes)
    by_repo = {(plan.source.repo, plan.source.ref): plan.describe() for plan in plans}
    return {
        "status": "ok",
        "cache_dir": str(cache_dir),
        "models": [
            {
                "model": model,
                "sources": [
                    {**by_repo[(s.repo, s.ref)], "missing_bytes": 0, "verified": True}
                    for s in found
                ],
            }
            for model, found in models
        ],
        "annotators": [
            {**by_repo[(s.repo, s.ref)], "missing_bytes": 0, "verified": True} for s in extra
        ],
        "downloaded_bytes": report.downloaded_bytes,
    }


def _show_done(
    display: _Display, plans: list[SourcePlan], settings: Settings, downloaded: int
) -> None:
    display.say(f"Downloaded {fmt_bytes(downloaded)}; every file checked against the hub:")
    for plan in plans:
        display.say(f"  ✓ {plan.source.repo}@{plan.commit} → {plan.cache.snapshot(plan.commit)}")
    weights = next((p for p in plans if p.source.whole_repo), None)
    if weights is not None and not COMMIT_RE.match(weights.source.ref):
        display.say(
            f"Pin it so every worker and receipt names this commit:\n"
            f"  export EDITSERVE_MODEL_REVISION={weights.commit}"
        )
    display.say("Workers can now start offline:  export HF_HUB_OFFLINE=1")


def _finish(display: _Display, options: PullOptions, result: dict[str, Any]) -> int:
    status = result["status"]
    if options.as_json:
        print(json.dumps(result, indent=2))
    elif status != "ok":
        display.console.print(f"editserve pull: {result['error']}", style="red", markup=False)
    return {"ok": EXIT_OK, "interrupted": EXIT_INTERRUPTED}.get(status, EXIT_FAILED)


__all__ = [
    "PullFailed",
    "PullOptions",
    "allow_downloads",
    "model_sources",
    "parse_size",
    "run_pull",
]
