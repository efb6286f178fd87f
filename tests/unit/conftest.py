"""Fixtures of the unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from editserve.models.qwen_image_edit.members import EDIT_2509

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_WEIGHTS_CACHE = REPO_ROOT / ".cache" / "tiny-qwen-image-edit-plus"


@pytest.fixture(scope="session")
def tiny_weights_dir() -> Path:
    """The tiny random-weight model, built once into the repo's .cache/ and reused by every
    test run and suite (the build is deterministic, atomic and safe to race)."""
    from editserve.models.qwen_image_edit.tiny.build import ensure_tiny_weights

    return ensure_tiny_weights(TINY_WEIGHTS_CACHE, variant=EDIT_2509)
