"""The control-map annotators: whether OpenCV imports (canny, lineart, scribble, gray) and
whether the depth and pose weights are in the Hugging Face cache. Read from the cache only
(no hub call); a missing annotator never blocks serving: only its control maps would wait
for a download (or fail with HF_HUB_OFFLINE)."""

from __future__ import annotations

from pathlib import Path

from editserve.commands.doctor.checks import Findings
from editserve.commands.doctor.serving import development_weights, hub_offline
from editserve.core.settings import Settings
from editserve.domain.stages import fmt_bytes
from editserve.hub.plan import cache_state
from editserve.models.annotators.registry import ANNOTATORS


def check_annotators(found: Findings, settings: Settings, cache_dir: Path) -> None:
    _check_opencv(found)
    model_types = [a for a in ANNOTATORS.values() if a.needs_weights]
    if development_weights(settings, bool(found.gpus)):
        found.add(
            "info",
            "annotators (depth, pose)",
            "the tiny random twins (maps are noise): built locally, nothing to download",
        )
        return
    for info in model_types:
        states = [cache_state(source, cache_dir) for source in info.weights]
        name = f"annotator ({info.type})"
        if all(state.complete for state in states):
            held = sum(state.present_bytes for state in states)
            repos = ", ".join(f"{s.source.repo}@{(s.commit or '')[:12]}" for s in states)
            found.add("ok", name, f"{repos} in the cache ({fmt_bytes(held)}); {info.licence}")
            continue
        absent = ", ".join(s.source.repo for s in states if not s.complete)
        offline = hub_offline()
        found.add(
            "warn" if offline else "info",
            name,
            f"{absent} not in the Hugging Face cache"
            + ("; HF_HUB_OFFLINE is set, so its control maps fail" if offline else ""),
            "editserve pull --annotators"
            + ("" if offline else " (else a worker downloads it at the first such map)"),
        )


def _check_opencv(found: Findings) -> None:
    try:
        import cv2
    except ImportError as exc:
        found.add(
            "warn",
            "annotators (canny, lineart, scribble, gray)",
            f"OpenCV does not import here ({exc})",
            "install editserve[gpu] on worker hosts (API-only nodes do not need it)",
        )
        return
    found.add(
        "ok",
        "annotators (canny, lineart, scribble, gray)",
        f"OpenCV {cv2.__version__} (Apache-2.0)",
    )


__all__ = ["check_annotators"]
