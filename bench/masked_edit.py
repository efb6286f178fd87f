"""A masked edit against the same edit without a mask (tiny random weights, the CPU).

Both jobs are built the way a worker builds them (the spec's validation, sizing and job)
from the same picture, prompt, seed and steps; the picture is at the model's output size
for the area, so both run the pipeline at one size and give an output of that size. The
masked one adds what masking costs: the mask on the latent grid, a blend of the latents
after every step (re-noised picture latents outside the mask; the picture's latents come
from the pipeline's own VAE encode, no second one), and the composite over the picture
with an 8-pixel feather. Timed interleaved, whole adapter calls; ratio = plain / masked
(goal: at most 5% more, ratio >= 0.95).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

from bench import tiny_model
from bench.common import Row, paired
from editserve.models.qwen_image_edit.request.sizing import calculate_dimensions
from editserve.models.registry import default_registry

SECTION = "mask"
FEATHER = 8


def jobs(settings: Any, area: int, steps: int) -> tuple[Any, Any]:
    """(the plain edit's job, the masked edit's job) of one picture at the output size."""
    spec = default_registry().find(tiny_model.MODEL)
    assert spec is not None
    size = calculate_dimensions(area, 3 / 2)
    picture = tiny_model.sample(0, size)
    mask = Image.new("L", size, 0)
    mask.paste(255, (size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4))
    built = []
    for masked in (False, True):
        fields = {**tiny_model.request_fields(1, steps), "aspect_ratio": "auto"}
        images = [picture]
        if masked:
            fields.update(mask="data:image/png;base64,AAAA", mask_feather=FEATHER)
            images.append(mask.convert("RGB"))  # stored after the pictures, as RGB decodes
        params = spec.validate_params(fields, settings)
        plan = spec.plan_size(params, [image.size for image in images], settings)
        built.append(
            spec.build_job(params.model_dump(), images, seed=0, width=plan.width,
                           height=plan.height, area=plan.area)
        )  # fmt: skip
    return built[0], built[1]


def run(adapter: Any, area: int, steps: int, repeat: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as folder:
        settings = tiny_model.tiny_settings(Path(folder), area)
        plain, masked = jobs(settings, area, steps)
    assert (plain.width, plain.height) == (masked.width, masked.height)
    for job in (plain, masked):  # the first call at this shape: not timed
        adapter.generate(job, tiny_model.ignore)
    baseline, ours = paired(
        lambda: adapter.generate(plain, tiny_model.ignore),
        lambda: adapter.generate(masked, tiny_model.ignore),
        repeat,
    )
    name = (
        f"masked edit vs the same edit without a mask (tiny, {plain.width}x{plain.height}, "
        f"{steps} steps, feather {FEATHER})"
    )
    note = f"best of {repeat}, interleaved; +{ours / baseline - 1:.1%} time"
    return [Row(SECTION, name, ours, baseline, "s", goal=0.95, note=note)]
