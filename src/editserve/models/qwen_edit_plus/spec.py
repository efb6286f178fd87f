"""The registry entry of qwen-image-edit-plus: card, schema, sizing, jobs and adapter."""

from __future__ import annotations

from typing import Any

from editserve.config import Settings
from editserve.errors import InvalidParams
from editserve.models.spec import ModelSpec, SizePlan

from .identity import HUB_ID, MODEL_ID
from .jobs import build_job
from .memory import MEMORY_CARD, memory_estimates
from .options import check_options, preset_defaults
from .schema import QwenImageEditPlusParams, request_schema
from .sizing import elongation_problem, output_size
from .sources import weights_source

TINY_WARNING = (
    "DEVELOPMENT WEIGHTS: this server runs a tiny random-weight model of the "
    "Qwen-Image-Edit-2509 architecture (no GPU was found, or model_weights=tiny). "
    "Outputs are noise. Set EDITSERVE_MODEL_WEIGHTS=Qwen/Qwen-Image-Edit-2509 on a GPU host."
)

CARD: dict[str, Any] = {
    "id": MODEL_ID,
    "object": "model",
    "created": 1758499200,  # 2025-09-22, the release of Qwen-Image-Edit-2509
    "owned_by": "qwen",
    "display_name": "Qwen Image Edit - 2509",
    "summary": "Multi-image natural-language editing",
    "description": (
        "Qwen-Image-Edit-2509 is a 20B parameter image editing model designed for complex "
        "image editing, with particular strengths in multi-image manipulation (person + "
        "person, person + product, person + scene) and high-fidelity text and style "
        "preservation. It edits 1-3 input images from an English or Chinese instruction, "
        "including rendering and editing text inside the image, and accepts control maps "
        "(depth, edge, keypoint/pose, sketch) as ordinary input images."
    ),
    "model_type": "base",
    "endpoint": "/images/edit",
    "capabilities": {"input": ["text", "image"], "output": ["image"]},
    # A self-hosted server charges nothing: the hosted API's cost fields stay null.
    "pricing": {"method": "image", "cost_per_image": None},
    "fine_tuning": None,
    "deployments": [],
    "developer": {"name": "Qwen", "logo": None},
    "source_model": HUB_ID,
    "image_url": None,
    "released_at": "2025-09-22T00:00:00Z",
    "parameter_count": 20_000_000_000,
    "memory": MEMORY_CARD,
}


def plan_size(
    params: QwenImageEditPlusParams, input_sizes: list[tuple[int, int]], settings: Settings
) -> SizePlan:
    area = settings.preview_area if params.preview else settings.output_area
    for index, (width, height) in enumerate(input_sizes):
        problem = elongation_problem(width, height, area)
        if problem is not None:
            raise InvalidParams(
                f"input_image[{index}]: {width}x{height} is too elongated for the model: "
                f"{problem}; crop it closer to square"
            )
    width, height = output_size(params.aspect_ratio, area, input_sizes[-1])
    return SizePlan(width=width, height=height, area=area)


SPEC = ModelSpec(
    id=MODEL_ID,
    aliases=(HUB_ID,),
    params_model=QwenImageEditPlusParams,
    card=CARD,
    request_schema=request_schema,
    adapter_path="editserve.models.qwen_edit_plus.adapter:QwenImageEditPlusAdapter",
    plan_size=plan_size,
    build_job=build_job,
    tiny_warning=TINY_WARNING,
    # A Lightning preset makes its step count and CFG 1.0 the request defaults.
    default_overrides=preset_defaults,
    check_settings=check_options,
    weights_source=weights_source,
    memory_estimates=memory_estimates,
)
