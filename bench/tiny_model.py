"""The tiny random-weight model in this process: settings, the adapter, jobs as a worker
makes them. Shared by the ``overhead`` and ``model`` sections so both time the very
adapter and parameters a server's worker runs."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from PIL import Image

from editserve.core.settings import Settings
from editserve.models.base import EditJob
from editserve.models.qwen_image_edit.members import EDIT_2509
from editserve.models.qwen_image_edit.tiny.build import ensure_tiny_weights
from editserve.models.registry import default_registry

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / ".cache" / "tiny-qwen-image-edit-plus"
MODEL = "qwen-image-edit-plus"
PROMPT = "Add a funny hat"


def tiny_env(data_dir: Path, area: int) -> dict[str, str]:
    """EDITSERVE_* settings of a server (and of the in-process adapter) on tiny weights."""
    return {
        "EDITSERVE_DATA_DIR": str(data_dir),
        "EDITSERVE_MODEL_WEIGHTS": "tiny",
        "EDITSERVE_TINY_WEIGHTS_DIR": str(ensure_tiny_weights(TINY, variant=EDIT_2509)),
        "EDITSERVE_OUTPUT_AREA": str(area),
        "EDITSERVE_PREVIEW_AREA": str(min(area, 32 * 32)),
        "EDITSERVE_TORCH_THREADS": "1",
        "EDITSERVE_PROGRESS_INTERVAL_SECONDS": "0",
        "EDITSERVE_LOG_LEVEL": "warning",
    }


def tiny_settings(data_dir: Path, area: int) -> Settings:
    fields = {
        key.removeprefix("EDITSERVE_").lower(): value
        for key, value in tiny_env(data_dir, area).items()
    }
    return Settings(**fields)


def load_adapter(settings: Settings) -> Any:
    """The adapter a worker loads for these settings, loaded and warmed up."""
    spec = default_registry().find(MODEL)
    assert spec is not None
    adapter = spec.adapter_class()(settings, warmup=True)
    adapter.load()
    return adapter


def sample(index: int, size: tuple[int, int] = (96, 64)) -> Image.Image:
    """A small test picture (different per index)."""
    image = Image.new("RGB", size, (200 - 40 * index, 40 + 50 * index, 40))
    for x in range(size[0] // 2):
        image.putpixel((x, size[1] // 2), (20, 200, 20))
    return image


def data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def request_fields(inputs: int, steps: int, seed: int = 0) -> dict[str, Any]:
    """The model fields of a request (the HTTP body without the model name)."""
    return {
        "prompt": PROMPT,
        "input_image": [data_uri(sample(i)) for i in range(inputs)],
        "num_inference_steps": steps,
        "seed": seed,
    }


def make_job(settings: Settings, inputs: int, steps: int, seed: int = 0) -> EditJob:
    """The job a worker builds from :func:`request_fields` (same sizing, same defaults)."""
    spec = default_registry().find(MODEL)
    assert spec is not None
    images = [sample(i) for i in range(inputs)]
    params = spec.validate_params(request_fields(inputs, steps, seed), settings)
    size = spec.plan_size(params, [image.size for image in images], settings)
    return spec.build_job(
        params.model_dump(),
        images,
        seed=seed,
        width=size.width,
        height=size.height,
        area=size.area,
    )


def ignore(step: int, total: int) -> None:
    return None
