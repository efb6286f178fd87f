"""The ``control`` request field of the edit family (an extension): a control map made from
a picture on a worker (or given ready) and appended as the **last input picture**.

    {"type": "canny", "image": <URL | data URI | upload URL>, "preprocess": true,
     "low_threshold": 50}

The rule: the map is Picture N, N = len(input_image) + 1, and the model's picture budget
(3 for 2509 and 2511, 1 for v1) counts it. Each type's options are the annotators' own
(models/annotators/options.py): this model lists every option once, optional, so that an
error names ``control.<option>`` and the served schema documents them all; the options
given must belong to the type. No torch, no OpenCV.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from editserve.models.annotators.options import OPTIONS_BY_TYPE, AnnotatorType, parse_options
from editserve.models.annotators.registry import TYPES
from editserve.models.qwen_image_edit.request.refs import check_image_ref

FIELD = "control"
CONTROL_DESCRIPTION = (
    "Control map (extension): {type, image, preprocess, ...options}. The worker turns "
    "`image` into a map of `type` (canny, lineart, scribble, gray, depth, pose), or takes "
    "it as the map with preprocess false, and appends the map as the LAST input picture: "
    "Picture N, N = number of input_image + 1 (refer to it in the prompt). The picture "
    "budget counts it (at most 3 pictures: 2 input_image + the map). The generation shows "
    "the map used as control_map_url."
)


def _option_fields() -> dict[str, Any]:
    """Every type's options, each optional (its own default applies when left out)."""
    fields: dict[str, Any] = {}
    for kind, model in OPTIONS_BY_TYPE.items():
        for name, info in model.model_fields.items():
            if name == "type":
                continue
            assert name not in fields, f"option {name} of {kind} is another type's too"
            words = f"{kind} only: {info.description} (default {info.default})"
            copy = FieldInfo.merge_field_infos(info, default=None, description=words)
            fields[name] = (Optional[info.annotation], copy)  # noqa: UP045 - a runtime type
    return fields


def _options_of(kind: str) -> list[str]:
    return [name for name in OPTIONS_BY_TYPE[kind].model_fields if name != "type"]


class _ControlBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: AnnotatorType = Field(
        description=f"What map to make: {', '.join(TYPES)}.",
    )
    image: str = Field(
        min_length=1,
        description=(
            "The picture the map is made from (preprocess true) or the map itself "
            "(preprocess false): an http(s) URL, a data:image/...;base64, URI or an upload URL."
        ),
        json_schema_extra={"renderType": "image-url", "format": "uri"},
    )
    preprocess: StrictBool = Field(
        default=True,
        description="true: compute the map from image; false: image is the map already.",
    )

    @field_validator("image")
    @classmethod
    def _image_ref_looks_right(cls, value: str) -> str:
        return check_image_ref(value.strip())

    @model_validator(mode="after")
    def _options_fit_the_type(self) -> _ControlBase:
        given = {
            name: getattr(self, name)
            for name in type(self).model_fields
            if name not in ("type", "image", "preprocess") and getattr(self, name) is not None
        }
        own = _options_of(self.type)
        for name in given:
            if name not in own:
                have = ", ".join(own) if own else "none"
                raise ValueError(f"{name} is not an option of {self.type} (its options: {have})")
        try:
            parse_options({"type": self.type, **given})
        except ValidationError as exc:  # the rules between options (canny's order, odd size)
            words = (e["msg"].removeprefix("Value error, ") for e in exc.errors())
            raise ValueError("; ".join(words)) from None
        return self

    def options(self) -> dict[str, Any]:
        """The type's options as given (the annotator fills in the defaults)."""
        return {
            name: getattr(self, name)
            for name in _options_of(self.type)
            if getattr(self, name) is not None
        }


ControlRequest: type[_ControlBase] = create_model(  # type: ignore[call-overload]
    "ControlRequest",
    __base__=_ControlBase,
    __doc__="A control map made from a picture (or given ready), appended as Picture N.",
    **_option_fields(),
)


def check_budget(control: Any, pictures: int, max_pictures: int) -> None:
    """ValueError (worded for ``control``) when the map would pass the picture budget."""
    if control is None or pictures + 1 <= max_pictures:
        return
    if max_pictures <= 1:
        raise ValueError(
            f"the map would be Picture {pictures + 1}; this model takes {max_pictures} "
            "picture, so it has no room for a control map: use a multi-picture edit model"
        )
    raise ValueError(
        f"the map would be Picture {pictures + 1}; at most {max_pictures} pictures "
        f"({max_pictures - 1} input_image + the map)"
    )


def stored_control(value: _ControlBase | None) -> dict[str, Any] | None:
    """What the generation keeps: every given field; a data: URI only as a marker (its
    decoded picture is stored as an input, like input_image's)."""
    if value is None:
        return None
    image = "data:" if value.image[:5].lower() == "data:" else value.image
    return {"type": value.type, "image": image, "preprocess": value.preprocess, **value.options()}


__all__ = [
    "CONTROL_DESCRIPTION",
    "FIELD",
    "ControlRequest",
    "check_budget",
    "stored_control",
]
