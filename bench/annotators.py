"""The control-map annotators on this machine's CPU, one core: each annotator's time for a
1 MP picture (1024x1024, photo-like), the map as the worker computes it (``compute_map``).

OpenCV ones (canny, lineart, scribble, gray) with ``cv2.setNumThreads(1)``; the goal row is
the issue's "a 1 MP canny or line-art map in ≤ 20 ms on one CPU core", as a ratio to
20 ms (above 1: within it). Depth and pose run their tiny random-weight twins (the real
code path and processors, tiny widths: what the code around the network costs; the real
networks' times are bench.gpu's annotator rows), with ``torch.set_num_threads(1)``.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import Row, best_of
from bench.images import photo
from editserve.models.annotators.options import parse_options

SECTION = "annotators"
REPO = Path(__file__).resolve().parents[1]
TINY = REPO / ".cache" / "tiny-annotators"
BUDGET_S = 0.020  # the 1 MP canny / line-art budget on one core
GOAL_TYPES = ("canny", "lineart")
OPENCV_TYPES = ("canny", "lineart", "scribble", "gray")
# the random detector's boxes all pass, the best one gets keypoints: the whole path runs
ONE_PERSON = {"detection_threshold": 0.0, "keypoint_threshold": 0.0, "max_people": 1}


@contextmanager
def one_core() -> Any:
    import cv2
    import torch

    threads = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads[0])
        torch.set_num_threads(threads[1])


def run(repeat: int, side: int = 1024) -> list[Row]:
    """``side`` < 1024 shrinks the picture (the smoke run); times are then per MP."""
    from editserve.models.annotators.runtime import compute_map
    from editserve.models.annotators.tiny import ensure_tiny_annotators

    picture = photo(side, side, seed=3)
    megapixels = side * side / 1e6
    label = "1 MP" if side == 1024 else f"{side}x{side}, per MP"
    tiny = ensure_tiny_annotators(TINY)
    rows: list[Row] = []
    with one_core():
        for kind in OPENCV_TYPES:
            options = parse_options({"type": kind})
            compute_map(picture, options)  # warm: OpenCV's first call allocates
            seconds = best_of(lambda o=options: compute_map(picture, o), repeat) / megapixels
            goal = 1.0 if kind in GOAL_TYPES else None
            note = "goal: ≤ 20 ms on one core" if goal else "vs the 20 ms budget"
            rows.append(
                Row(SECTION, f"{kind}, {label}, one core", seconds, BUDGET_S, "s", goal=goal,
                    note=f"OpenCV; {note}")
            )  # fmt: skip
        for kind, raw in (("depth", {}), ("pose", ONE_PERSON)):
            options = parse_options({"type": kind, **raw})
            compute_map(picture, options, weights_root=tiny)  # load once, like a worker
            seconds = best_of(
                lambda o=options: compute_map(picture, o, weights_root=tiny), max(1, repeat // 3)
            )
            rows.append(
                Row(SECTION, f"{kind}, {label}, one core, tiny twin", seconds / megapixels,
                    float("nan"), "s",
                    note="tiny random twin (processors, plumbing, drawing); real sizes: bench.gpu")
            )  # fmt: skip
    return rows


__all__ = ["run"]
