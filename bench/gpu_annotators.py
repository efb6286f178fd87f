"""bench.gpu's annotator rows: the depth and pose control maps at ~1 MP with the real
architectures (Depth-Anything-V2-Small; RT-DETR R50vd + ViTPose-B: their published configs,
random weights, which time a network exactly), through the worker's own ``compute_map``
and ``from_pretrained`` path, against one denoising step of the edit model measured in the
same run (the issue's goal: a map adds less than one step).

The random checkpoints are written in the hub layout to a temporary folder and loaded from
there (``weights_root``), as the tiny twins are; ``--cpu-scaled`` uses the tiny configs.
Pose times one person (the random detector's best box) through detector, keypoints and
drawing.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ONE_PERSON = {"detection_threshold": 0.0, "keypoint_threshold": 0.0, "max_people": 1}


@dataclass
class AnnotatorResult:
    annotator: str
    side: int
    seconds: float
    step_s: float  # one denoising step of the edit model in this run (nan: none measured)
    note: str = ""

    @property
    def steps(self) -> float:
        """The map's time in denoising steps (below 1: the goal is met)."""
        return self.seconds / self.step_s if self.step_s > 0 else float("nan")


def run(
    device: str, cpu_scaled: bool, step_s: float, side: int = 1024, repeat: int = 5
) -> list[AnnotatorResult]:
    from bench.images import photo
    from editserve.models.annotators.options import parse_options
    from editserve.models.annotators.runtime import compute_map
    from editserve.models.annotators.runtime.loading import unload_all
    from editserve.models.annotators.tiny import write_checkpoints

    picture = photo(side, side, seed=5)
    results = []
    with tempfile.TemporaryDirectory(prefix="annotators-") as folder:
        root = Path(folder)
        write_checkpoints(root, "tiny" if cpu_scaled else "real")  # random, hub layout
        for kind, raw in (("depth", {}), ("pose", ONE_PERSON)):
            options = parse_options({"type": kind, **raw})
            compute_map(picture, options, device=device, weights_root=root)  # load, warm up
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                compute_map(picture, options, device=device, weights_root=root)  # ends on .cpu()
                times.append(time.perf_counter() - started)
            note = "one person" if kind == "pose" else ""
            results.append(AnnotatorResult(kind, side, min(times), step_s, note))
        unload_all()
    return results


def table(results: list[AnnotatorResult]) -> str:
    lines = [
        "| annotator | picture | s/map | one denoising step | map in steps (goal < 1) | note |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        steps = "n/a" if math.isnan(r.steps) else f"{r.steps:.2f}"
        step = "n/a" if math.isnan(r.step_s) else f"{r.step_s:.3f} s"
        lines.append(
            f"| {r.annotator} | {r.side}x{r.side} | {r.seconds:.3f} s | {step} | {steps} | "
            f"{r.note} |"
        )
    return "\n".join(lines)


__all__ = ["AnnotatorResult", "run", "table"]
