"""Properties of the output sizing of qwen-image-edit-plus (models/qwen_image_edit/request/sizing.py
and plan_size), checked against the pipeline's and the image processor's own code."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from editserve.core.errors import InvalidParams
from editserve.core.settings import Settings
from editserve.models.qwen_image_edit.request import sizing
from editserve.models.qwen_image_edit.request.schema import QwenImageEditPlusParams
from editserve.models.qwen_image_edit.runtime import call
from editserve.models.qwen_image_edit.specs import SPEC_2509 as SPEC

ASPECTS = [*sizing.ASPECT_RATIOS, sizing.AUTO]
# Output areas an operator might set (tiny test servers to 2 MP), and input sides.
areas = st.integers(min_value=32 * 32, max_value=2048 * 2048)
sides = st.integers(min_value=1, max_value=20_000)


def params(aspect_ratio: str = "1:1", preview: bool = False) -> QwenImageEditPlusParams:
    return QwenImageEditPlusParams(
        prompt="p", input_image=["https://x/y.png"], aspect_ratio=aspect_ratio, preview=preview
    )


@settings(max_examples=300, deadline=None, database=None)
@given(aspect=st.sampled_from(ASPECTS), area=areas, width=sides, height=sides)
def test_output_sizes_are_multiples_near_the_area_and_the_ratio(
    aspect: str, area: int, width: int, height: int
) -> None:
    out_w, out_h = sizing.output_size(aspect, area, (width, height))
    # Multiples of 32 (our rounding), hence of 16 (what the pipeline needs).
    assert out_w % sizing.MULTIPLE == 0 and out_h % sizing.MULTIPLE == 0
    assert out_w % call.SIZE_MULTIPLE == 0 and out_h % call.SIZE_MULTIPLE == 0
    assert out_w >= sizing.MULTIPLE and out_h >= sizing.MULTIPLE
    ratio = width / height if aspect == sizing.AUTO else sizing.ASPECT_RATIOS[aspect]
    exact_w = math.sqrt(area * ratio)
    exact_h = exact_w / ratio
    # Each side is the exact one rounded to the nearest multiple of 32 (or 32 at least).
    assert abs(out_w - max(exact_w, 16)) <= 16 + 1e-9
    assert abs(out_h - max(exact_h, 16)) <= 16 + 1e-9
    if min(exact_w, exact_h) >= 16:
        # The area is kept within what rounding each side by up to 16 px can change...
        assert abs(out_w * out_h - area) <= 16 * (exact_w + exact_h) + 256 + 1e-6
        # ...and so is the aspect ratio.
        low = (exact_w - 16) / (exact_h + 16)
        high = (exact_w + 16) / max(exact_h - 16, 1e-9)
        assert low - 1e-9 <= out_w / out_h <= high + 1e-9 or exact_h <= 16


@settings(max_examples=200, deadline=None, database=None)
@given(aspect=st.sampled_from(ASPECTS), area=st.sampled_from([1024 * 1024, 512 * 512]))
def test_a_named_ratio_stays_close_at_native_sizes(aspect: str, area: int) -> None:
    out_w, out_h = sizing.output_size(aspect, area, (300, 200))
    ratio = 300 / 200 if aspect == sizing.AUTO else sizing.ASPECT_RATIOS[aspect]
    assert abs(out_w / out_h - ratio) / ratio < 0.06
    assert abs(out_w * out_h - area) / area < 0.06


def test_pipeline_dimensions_is_the_pipelines_own() -> None:
    pipeline = pytest.importorskip("diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus")
    for area in (sizing.CONDITION_AREA, 1024 * 1024, 64 * 64):
        for ratio in (1.0, 16 / 9, 0.01, 268.0, 500.0, 3.3):
            assert sizing.pipeline_dimensions(area, ratio) == pipeline.calculate_dimensions(
                area, ratio
            )


def processor_accepts(width: int, height: int) -> bool:
    """What the vision encoder's image processor says of the input's condition copy."""
    module = pytest.importorskip("transformers.models.qwen2_vl.image_processing_qwen2_vl")
    cond_w, cond_h = sizing.pipeline_dimensions(sizing.CONDITION_AREA, width / height)
    try:
        module.smart_resize(height=cond_h, width=cond_w)
    except (ValueError, ZeroDivisionError):
        return False
    return True


def pipeline_accepts(width: int, height: int, area: int) -> bool:
    """What the adapter's own job checks say of the input (a stand-in with its size)."""
    image = SimpleNamespace(size=(width, height))
    job = SPEC.build_job({"prompt": "p"}, [image], seed=0, width=64, height=64, area=area)
    try:
        call.validate_job(job)
    except ValueError:
        return False
    return True


@settings(max_examples=400, deadline=None, database=None)
@given(
    width=sides,
    height=sides,
    area=st.sampled_from([64 * 64, 32 * 32, 512 * 512, 1024 * 1024]),
    preview=st.booleans(),
)
@example(width=4000, height=8, area=1024 * 1024, preview=False)
@example(width=8, height=4000, area=1024 * 1024, preview=False)
@example(width=600, height=2, area=64 * 64, preview=False)
def test_plan_size_refuses_exactly_what_the_pipeline_would_fail_on(
    width: int, height: int, area: int, preview: bool
) -> None:
    server = Settings(output_area=area, preview_area=max(32 * 32, area // 4))
    vae_area = server.preview_area if preview else server.output_area
    other = (48, 32)
    try:
        plan = SPEC.plan_size(params("auto", preview), [other, (width, height)], server)
    except InvalidParams as exc:
        assert str(exc).startswith(f"input_image[1]: {width}x{height} is too elongated")
        assert not (pipeline_accepts(width, height, vae_area) and processor_accepts(width, height))
    else:
        assert pipeline_accepts(width, height, vae_area) and processor_accepts(width, height)
        assert plan.area == vae_area
        assert plan.width % sizing.MULTIPLE == 0 and plan.height % sizing.MULTIPLE == 0
