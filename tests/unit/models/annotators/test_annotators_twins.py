"""Depth and pose through their tiny random-weight twins, loaded by the same from_pretrained
path as the real weights: maps of the input's size, RGB, deterministic; the twins laid out
like the hub snapshots `editserve pull --annotators` fetches."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from fixtures.annotators import pixels, white_square

from editserve.models.annotators.options import DepthOptions, PoseOptions
from editserve.models.annotators.registry import weights_sources
from editserve.models.annotators.runtime import compute_map
from editserve.models.annotators.runtime.loading import unload_all
from editserve.models.annotators.runtime.skeleton import COLORS, LIMB_SHADE
from editserve.models.annotators.tiny import build_tiny_annotators

SIZE = (150, 70)  # not the processors' sizes, not square
EVERYONE = PoseOptions(detection_threshold=0.0, keypoint_threshold=0.0)


def test_the_twins_are_laid_out_like_the_hub_snapshots(tiny_annotators: Path) -> None:
    for source in weights_sources():
        folder = tiny_annotators.joinpath(*source.repo.split("/"))
        assert sorted(p.name for p in folder.iterdir()) == sorted(source.files or ())


def test_depth_is_a_gray_map_of_the_input_size(tiny_annotators: Path) -> None:
    picture = white_square(SIZE, (40, 10, 100, 50))
    out = compute_map(picture, DepthOptions(), weights_root=tiny_annotators)
    assert out.mode == "RGB" and out.size == SIZE
    values = pixels(out)
    assert (values[..., 0] == values[..., 1]).all() and (values[..., 0] == values[..., 2]).all()
    assert values.min() == 0 and values.max() == 255  # scaled to the full range


def test_depth_and_pose_are_deterministic_across_loads(tiny_annotators: Path) -> None:
    picture = white_square(SIZE, (40, 10, 100, 50))
    both = (DepthOptions(), EVERYONE)
    first = [compute_map(picture, o, weights_root=tiny_annotators) for o in both]
    unload_all()
    again = [compute_map(picture, o, weights_root=tiny_annotators) for o in both]
    for a, b in zip(first, again, strict=True):
        assert (pixels(a) == pixels(b)).all()


def test_pose_draws_only_skeleton_colors_on_black(tiny_annotators: Path) -> None:
    picture = white_square(SIZE, (40, 10, 100, 50))
    out = compute_map(picture, EVERYONE, weights_root=tiny_annotators)
    assert out.mode == "RGB" and out.size == SIZE
    values = pixels(out).reshape(-1, 3)
    drawn = {tuple(int(v) for v in p) for p in np.unique(values, axis=0)} - {(0, 0, 0)}
    palette = set(COLORS) | {tuple(int(c * LIMB_SHADE) for c in color) for color in COLORS}
    assert drawn, "with every box and keypoint kept, the random twin draws someone"
    assert drawn <= palette


def test_no_person_found_is_a_black_map(tiny_annotators: Path) -> None:
    out = compute_map(
        white_square(SIZE), PoseOptions(detection_threshold=1.0), weights_root=tiny_annotators
    )
    assert out.size == SIZE and not pixels(out).any()


@pytest.mark.slow
def test_the_builder_is_deterministic(tiny_annotators: Path, tmp_path: Path) -> None:
    build_tiny_annotators(tmp_path / "again")
    for source in weights_sources():
        ours = tmp_path.joinpath("again", *source.repo.split("/"), "model.safetensors")
        cached = tiny_annotators.joinpath(*source.repo.split("/"), "model.safetensors")
        assert (
            hashlib.sha256(ours.read_bytes()).digest()
            == hashlib.sha256(cached.read_bytes()).digest()
        ), source.repo
