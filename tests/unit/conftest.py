"""Fixtures of the unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_WEIGHTS_CACHE = REPO_ROOT / ".cache" / "tiny-qwen-image-edit-plus"


@pytest.fixture(scope="session")
def tiny_weights_dir() -> Path:
    """The tiny random-weight model, built once into the repo's .cache/ and reused by every
    test run and suite (the build is deterministic, atomic and safe to race)."""
    from editserve.models.qwen_edit_plus.tiny import ensure_tiny_weights

    return ensure_tiny_weights(TINY_WEIGHTS_CACHE)
