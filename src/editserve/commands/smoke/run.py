"""What `editserve smoke` runs: the verification step of a (GPU) deployment.

It loads the configured model in this process with the configured options (exactly as a
worker does: same settings, same adapter, same warm-up), runs one small edit on a
generated test image, and returns the receipt and stage timings — printed as JSON by the
CLI. No server, queue or database is involved, so a failure here is about the model,
the GPU or the options, nothing else.
"""

from __future__ import annotations

import dataclasses
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from pydantic import ValidationError

from editserve.core.errors import InvalidParams
from editserve.core.settings import Settings
from editserve.inputs.decode import load_rgb
from editserve.models.base import EditJob
from editserve.models.registry import default_registry
from editserve.models.spec import ModelSpec
from editserve.worker.output import encode_image

DEFAULT_PROMPT = "Make the red circle blue and write SMOKE on the sign"


class SmokeFailed(Exception):
    """The model could not be loaded or the edit failed; the message says why."""


@dataclass(frozen=True)
class SmokeRequest:
    prompt: str = DEFAULT_PROMPT
    images: int = 1
    aspect_ratio: str | None = None  # default: auto for an edit model, else the model's
    preview: bool = False
    steps: int | None = None  # default: what a request without the field gets
    true_cfg_scale: float | None = None
    seed: int = 0
    batch: int = 1
    out: Path | None = None
    warmup: bool = True
    model: str | None = None  # default: the registry's first model


def sample_image(index: int = 0, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A synthetic scene with shapes and a sign (different per index)."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):  # a sky-to-ground gradient
        shade = int(200 * y / height)
        draw.line([(0, y), (width, y)], fill=(40 + shade // 3, 90 + shade // 2, 220 - shade))
    colors = [(220, 40, 40), (40, 180, 60), (240, 200, 30)]
    r = min(width, height) // 6
    cx, cy = width // 3 + index * r, height // 2
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colors[index % 3])
    draw.rectangle([width * 3 // 5, height // 5, width * 9 // 10, height * 2 // 5], fill="white")
    draw.text((width * 3 // 5 + 10, height // 5 + 10), f"EDITSERVE {index + 1}", fill="black")
    return image


def run_smoke(
    settings: Settings, request: SmokeRequest, *, device: str | None = None
) -> dict[str, Any]:
    """Load the model, run one edit, and return what happened (JSON-able)."""
    from editserve.models.base import ModelLoadError

    spec = _checked(request)
    started = time.perf_counter()
    own = settings.for_model(spec.id)  # its own weights (EDITSERVE_MODEL_WEIGHTS_PER_MODEL)
    adapter = spec.adapter_class()(own, device=device, warmup=request.warmup)
    try:
        loaded = adapter.load()
    except ModelLoadError as exc:
        raise SmokeFailed(f"the model did not load: {exc}") from None
    load_seconds = time.perf_counter() - started

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    pictures = 0 if spec.kind == "generate" else request.images  # a prompt alone
    images = [load_rgb(_png(sample_image(index))) for index in range(pictures)]
    timings["input_decode"] = time.perf_counter() - t0
    jobs = _jobs(spec, settings, request, images)
    steps_seen: list[int] = []

    def on_step(step: int, total: int) -> None:
        steps_seen.append(step)

    t1 = time.perf_counter()
    try:
        if len(jobs) == 1:
            results = [adapter.generate(jobs[0], on_step)]
        else:
            results = adapter.generate_batch(jobs, on_step)
    except Exception as exc:
        raise SmokeFailed(f"the edit failed: {type(exc).__name__}: {exc}") from exc
    edit_seconds = time.perf_counter() - t1

    t2 = time.perf_counter()
    saved = _save(results[0].image, request.out)
    timings["encode_store"] = time.perf_counter() - t2
    timings.update(results[0].timings)

    return {
        "ok": True,
        "weights": dataclasses.asdict(loaded),
        "receipt": results[0].receipt,
        "seeds": [result.receipt["seed"] for result in results],
        "timings": {name: round(value, 4) for name, value in timings.items()},
        "load_seconds": round(load_seconds, 3),
        "edit_seconds": round(edit_seconds, 3),
        "seconds_per_step": round(
            results[0].timings.get("denoise", 0.0) / max(1, jobs[0].num_inference_steps), 4
        ),
        "steps_reported": len(steps_seen),
        "image": saved,
        "image_size": list(results[0].image.size),
    }


def _checked(request: SmokeRequest) -> ModelSpec:
    if not 1 <= request.images <= 3:
        raise SmokeFailed("--images must be 1, 2 or 3")
    if not 1 <= request.batch <= 4:
        raise SmokeFailed("--batch must be 1 to 4")
    registry = default_registry()
    return registry.get(request.model) if request.model else registry.default


def _save(image: Image.Image, out: Path | None) -> str | None:
    data, _content_type = encode_image(image, "png")
    if out is None:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return str(out)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _jobs(
    spec: ModelSpec, settings: Settings, request: SmokeRequest, images: list[Image.Image]
) -> list[EditJob]:
    """The jobs exactly as the API and a worker would make them (preset defaults too)."""
    fields: dict[str, Any] = {"prompt": request.prompt, "preview": request.preview}
    fields["seed"] = request.seed
    if images:  # an edit model's pictures (a text-to-image model takes none)
        fields["input_image"] = ["data:image/png;base64,"] * len(images)
    if request.aspect_ratio or (images and "aspect_ratio" in spec.params_model.model_fields):
        fields["aspect_ratio"] = request.aspect_ratio or "auto"
    if request.steps is not None:
        fields["num_inference_steps"] = request.steps
    if request.true_cfg_scale is not None:
        fields["true_cfg_scale"] = request.true_cfg_scale
    try:
        params = spec.validate_params(fields, settings)
        size = spec.plan_size(params, [img.size for img in images], settings)
    except (ValidationError, InvalidParams) as exc:
        raise SmokeFailed(f"the smoke request is invalid: {exc}") from None
    stored = params.model_dump()
    return [
        spec.build_job(
            stored,
            images,
            seed=(request.seed + index) % 2**32,
            width=size.width,
            height=size.height,
            area=size.area,
        )
        for index in range(request.batch)
    ]
