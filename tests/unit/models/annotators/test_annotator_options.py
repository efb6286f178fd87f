"""Each annotator's options: defaults, ranges, cross-field rules, unknown types and options;
every error names the option it is about."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from editserve.models.annotators.options import (
    CannyOptions,
    LineartOptions,
    PoseOptions,
    ScribbleOptions,
    canonical,
    parse_options,
)
from editserve.models.annotators.registry import ANNOTATORS, TYPES, annotator, weights_sources


def error_of(raw: dict[str, object]) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_options(raw)
    return str(caught.value)


def test_defaults_are_filled_in() -> None:
    canny = parse_options({"type": "canny"})
    assert isinstance(canny, CannyOptions)
    assert (canny.low_threshold, canny.high_threshold) == (100, 200)
    assert parse_options({"type": "scribble"}) == ScribbleOptions(thickness=5)
    assert parse_options({"type": "pose", "max_people": 2}) == PoseOptions(max_people=2)
    assert canonical(parse_options({"type": "gray"})) == {"type": "gray"}


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"type": "canny", "low_threshold": 300}, "low_threshold"),
        ({"type": "canny", "high_threshold": -1}, "high_threshold"),
        ({"type": "scribble", "thickness": 0}, "thickness"),
        ({"type": "lineart", "block_size": 99}, "block_size"),
        ({"type": "pose", "detection_threshold": 1.5}, "detection_threshold"),
        ({"type": "pose", "max_people": 0}, "max_people"),
    ],
)
def test_a_value_out_of_range_names_its_option(raw: dict[str, object], named: str) -> None:
    text = error_of(raw)
    assert named in text
    assert "less than or equal" in text or "greater than or equal" in text


def test_cross_field_rules_name_both_options() -> None:
    text = error_of({"type": "canny", "low_threshold": 200, "high_threshold": 100})
    assert "low_threshold (200) must not exceed high_threshold (100)" in text
    assert "block_size must be odd (got 12)" in error_of({"type": "lineart", "block_size": 12})
    assert LineartOptions(block_size=13).block_size == 13


def test_unknown_options_and_types_are_named() -> None:
    text = error_of({"type": "canny", "sigma": 3})
    assert "sigma" in text and "Extra inputs are not permitted" in text
    assert "thickness" in error_of({"type": "depth", "thickness": 3})
    text = error_of({"type": "sobel"})
    assert "sobel" in text and "'canny'" in text and "'pose'" in text
    assert "type" in error_of({"low_threshold": 3})
    with pytest.raises(ValueError, match=r"type: must be one of canny, .*pose \(got 'hed'\)"):
        annotator("hed")


def test_the_registry_lists_every_type_with_its_weights_and_licence() -> None:
    assert TYPES == ("canny", "lineart", "scribble", "gray", "depth", "pose")
    assert [t for t in TYPES if ANNOTATORS[t].needs_weights] == ["depth", "pose"]
    repos = [source.repo for source in weights_sources()]
    assert len(repos) == len(set(repos)) == 3
    # the non-commercial Depth-Anything-V2 sizes are never fetched
    assert not [r for r in repos if "Base" in r or "Large" in r or "Giant" in r]
    assert all("Apache-2.0" in ANNOTATORS[t].licence for t in TYPES)
    for source in weights_sources():
        assert source.files == ("config.json", "model.safetensors", "preprocessor_config.json")
    card = ANNOTATORS["canny"].card()
    assert card["options"] == {
        "low_threshold": {"default": 100, "minimum": 0, "maximum": 255},
        "high_threshold": {"default": 200, "minimum": 0, "maximum": 255},
    }
    assert weights_sources(("pose",)) == list(ANNOTATORS["pose"].weights)
