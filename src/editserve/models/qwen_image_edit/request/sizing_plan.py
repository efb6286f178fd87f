"""Sizing a request of the Qwen-Image-Edit family: by aspect ratio, or exactly.

``plan_size`` is every family member's ``ModelSpec.plan_size``. No torch.
"""

from __future__ import annotations

from typing import Protocol

from editserve.core.errors import InvalidParams
from editserve.core.settings import Settings
from editserve.models.qwen_image_edit.request.schema import QwenImageEditPlusParams
from editserve.models.qwen_image_edit.request.sizing import elongation_problem, output_size
from editserve.models.spec import SizePlan


class ExactSizeFields(Protocol):
    """A request model with the exact-size fields (every member of the family has them)."""

    width: int | None
    height: int | None


def plan_size(
    params: QwenImageEditPlusParams, input_sizes: list[tuple[int, int]], settings: Settings
) -> SizePlan:
    area = settings.preview_area if params.preview else settings.output_area
    exact = exact_size(params, settings)
    if params.mask is not None:
        # the last input is the mask, checked to be Picture 1's (upright) size
        return masked_size(input_sizes[:-1], input_sizes[-1], exact, area, params)
    pictures = control_pictures(params, len(input_sizes))
    check_inputs_fit(input_sizes, area, pictures)
    if exact is not None:
        return SizePlan(width=exact[0], height=exact[1], area=area)
    # `auto` follows the last input_image (a control picture, stored after them, does not)
    width, height = output_size(params.aspect_ratio, area, input_sizes[pictures - 1])
    return SizePlan(width=width, height=height, area=area)


def control_pictures(params: QwenImageEditPlusParams, inputs: int) -> int:
    """How many of the inputs are input_image items: all but the control picture."""
    return len(params.input_image) if getattr(params, "control", None) is not None else inputs


def masked_size(
    pictures: list[tuple[int, int]],
    size: tuple[int, int],
    exact: tuple[int, int] | None,
    area: int,
    params: QwenImageEditPlusParams | None = None,
) -> SizePlan:
    """A masked edit's output: Picture 1's size (`size`); the pipeline runs at Picture
    1's aspect at `area` and the result is composited over Picture 1 at its own size."""
    count = control_pictures(params, len(pictures)) if params is not None else None
    check_inputs_fit(pictures, area, count)
    if exact is not None and exact != size:
        raise InvalidParams(
            f"width: a masked edit's output has Picture 1's size ({size[0]}x{size[1]}); "
            f"leave width and height out (got {exact[0]}x{exact[1]})"
        )
    return SizePlan(width=size[0], height=size[1], area=area)


def check_inputs_fit(
    input_sizes: list[tuple[int, int]], area: int, pictures: int | None = None
) -> None:
    """Refuse inputs the pipeline would fail on at this VAE area (InvalidParams); the
    first ``pictures`` (default: all) are input_image items, the next a control picture."""
    pictures = len(input_sizes) if pictures is None else pictures
    for index, (width, height) in enumerate(input_sizes):
        problem = elongation_problem(width, height, area)
        if problem is not None:
            # a control picture is stored after the input_image items (request/control.py)
            name = f"input_image[{index}]" if index < pictures else "control.image"
            raise InvalidParams(
                f"{name}: {width}x{height} is too elongated for the model: "
                f"{problem}; crop it closer to square"
            )


def exact_size(params: ExactSizeFields, settings: Settings) -> tuple[int, int] | None:
    """The exact (width, height) a request asks for, or None (aspect-ratio sizing).

    Both or neither; each side within the server's exact_size_min_side..max_side and the
    area at most exact_size_max_area (the schema checked the multiple of 16).
    """
    width, height = params.width, params.height
    if width is None and height is None:
        return None
    if width is None or height is None:
        given, missing = ("width", "height") if height is None else ("height", "width")
        raise InvalidParams(f"{missing}: required when {given} is given (give both or neither)")
    low, high = settings.exact_size_min_side, settings.exact_size_max_side
    for name, value in (("width", width), ("height", height)):
        if not low <= value <= high:
            raise InvalidParams(f"{name}: must be between {low} and {high} pixels (got {value})")
    if width * height > settings.exact_size_max_area:
        raise InvalidParams(
            f"width: width x height must be at most {settings.exact_size_max_area} pixels "
            f"(got {width}x{height} = {width * height})"
        )
    return width, height
