"""map_key: one blob key per input bytes, type and options (defaults filled in)."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from editserve.models.annotators.cache_key import input_sha256, map_key
from editserve.models.annotators.options import CannyOptions

SHA = input_sha256(b"picture one")
OTHER = input_sha256(b"picture two")


def test_a_key_is_a_png_under_maps() -> None:
    assert re.fullmatch(r"maps/[0-9a-f]{64}\.png", map_key(SHA, "canny"))


def test_the_same_input_and_settings_give_the_same_key() -> None:
    key = map_key(SHA, "canny", {"low_threshold": 100, "high_threshold": 200})
    assert key == map_key(SHA, "canny")
    assert key == map_key(SHA, "canny", {})
    assert key == map_key(SHA, "canny", {"type": "canny"})
    assert key == map_key(SHA, "canny", CannyOptions())


def test_anything_that_changes_the_map_changes_the_key() -> None:
    keys = {
        map_key(SHA, "canny"),
        map_key(OTHER, "canny"),
        map_key(SHA, "canny", {"low_threshold": 99}),
        map_key(SHA, "scribble"),
        map_key(SHA, "scribble", {"thickness": 7}),
        map_key(SHA, "depth"),
        map_key(SHA, "pose"),
        map_key(SHA, "pose", {"max_people": 1}),
    }
    assert len(keys) == 8


def test_refusals_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="image_sha256: must be 64 lowercase hex"):
        map_key("abc", "canny")
    with pytest.raises(ValueError, match="type 'gray' does not match 'canny'"):
        map_key(SHA, "canny", {"type": "gray"})
    with pytest.raises(ValueError, match="type 'canny' does not match 'lineart'"):
        map_key(SHA, "lineart", CannyOptions())
    with pytest.raises(ValueError, match="type: must be one of"):
        map_key(SHA, "sobel")
    with pytest.raises(ValidationError, match="low_threshold"):
        map_key(SHA, "canny", {"low_threshold": 256})
