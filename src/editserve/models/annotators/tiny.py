"""Tiny random-weight twins of the annotators' checkpoints (depth, pose detector, pose
keypoints): the same transformers classes and image processors at a fraction of the
size, saved with ``save_pretrained`` into ``<root>/<owner>/<name>/`` (config.json,
model.safetensors, preprocessor_config.json: the files a real snapshot has), and loaded
through the same ``from_pretrained`` path as the real weights (runtime/loading.py with
``weights_root=<root>``).

    python -m editserve.models.annotators.tiny OUT_DIR

Deterministic (seeded), idempotent, safe when several processes build at once (each
builds privately; the first atomic rename wins). transformers and torch are imported
inside the functions.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from editserve.hub.sources import HubFiles
from editserve.models.annotators import configs
from editserve.models.annotators.configs import Size
from editserve.models.annotators.registry import (
    CHECKPOINT_FILES,
    DEPTH_WEIGHTS,
    POSE_DETECTOR_WEIGHTS,
    POSE_KEYPOINT_WEIGHTS,
)

SEED = 20
MARKER_FILE = "editserve-tiny-annotators.json"
# Bump when the builder writes something else: an older folder is rebuilt.
TINY_FORMAT_VERSION = 1


def checkpoints() -> list[tuple[HubFiles, str, Callable[[Size], Any], Callable[[], Any]]]:
    """(source, transformers model class, config of a size, image processor) per checkpoint."""
    return [
        (
            DEPTH_WEIGHTS,
            "DepthAnythingForDepthEstimation",
            configs.depth_config,
            configs.depth_processor,
        ),
        (
            POSE_DETECTOR_WEIGHTS,
            "RTDetrForObjectDetection",
            configs.detector_config,
            configs.detector_processor,
        ),
        (
            POSE_KEYPOINT_WEIGHTS,
            "VitPoseForPoseEstimation",
            configs.pose_config,
            configs.pose_processor,
        ),
    ]


def is_complete(root: Path) -> bool:
    try:
        info = json.loads((root / MARKER_FILE).read_text())
    except (OSError, ValueError):
        return False
    if info.get("format_version") != TINY_FORMAT_VERSION:
        return False
    return all(
        (root.joinpath(*source.repo.split("/")) / name).is_file()
        for source, *_ in checkpoints()
        for name in CHECKPOINT_FILES
    )


def write_checkpoints(out: Path, size: Size) -> Path:
    """Every checkpoint at ``size`` with seeded random weights, in the hub layout under
    ``out`` (the tiny twins; bench.gpu's real-size ones)."""
    import torch
    import transformers

    for index, (source, class_name, config, processor) in enumerate(checkpoints()):
        folder = out.joinpath(*source.repo.split("/"))
        folder.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(SEED + index)
        model = getattr(transformers, class_name)(config(size)).eval()
        model.save_pretrained(folder, safe_serialization=True)
        processor().save_pretrained(folder)
    return out


def build_tiny_annotators(out: Path) -> Path:
    """Build every twin into the (new or empty) folder ``out``; the marker comes last."""
    write_checkpoints(out, "tiny")
    marker = {"format_version": TINY_FORMAT_VERSION, "repos": [s.repo for s, *_ in checkpoints()]}
    (out / MARKER_FILE).write_text(json.dumps(marker, indent=2))
    return out


def ensure_tiny_annotators(root: Path) -> Path:
    """``root`` holding every tiny twin, built first if needed."""
    root = Path(root).expanduser().absolute()
    if is_complete(root):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        build_tiny_annotators(tmp)
        _move_into_place(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not is_complete(root):
        raise RuntimeError(f"tiny annotator folder {root} is incomplete after building it")
    return root


def _move_into_place(tmp: Path, root: Path) -> None:
    try:
        os.rename(tmp, root)
        return
    except OSError:
        if is_complete(root):  # another process won the race
            return
    trash = root.parent / f".{root.name}.stale-{uuid.uuid4().hex[:8]}"
    os.rename(root, trash)  # a stale or broken folder: aside, then ours in
    try:
        os.rename(tmp, root)
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m editserve.models.annotators.tiny OUT_DIR", file=sys.stderr)
        return 2
    print(ensure_tiny_annotators(Path(args[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "MARKER_FILE",
    "SEED",
    "TINY_FORMAT_VERSION",
    "build_tiny_annotators",
    "checkpoints",
    "ensure_tiny_annotators",
    "is_complete",
    "main",
    "write_checkpoints",
]
