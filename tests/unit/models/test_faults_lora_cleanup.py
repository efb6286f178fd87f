"""A job's LoRA is off again however the job ends: cancelled mid-way (the step callback
raising GenerationCancelled), failed mid-way (the step callback or the pipeline raising),
refused before the pipeline runs, single or batched. The next job without LoRAs then gives
exactly the plain baseline's pixels on the same seed (tiny model, tiny LoRA)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixtures.qwen import edit_job, ignore_steps, load_tiny_adapter, pixels

from editserve.models.base import GenerationCancelled
from editserve.models.qwen_image_edit.tiny.build import build_tiny_lora

STEPS = 3


class PipelineBroke(RuntimeError):
    """A failure mid-way through the denoising loop (a CUDA error, a lost lease...)."""


@pytest.fixture(scope="module")
def adapter(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    loras = tmp_path_factory.mktemp("loras")
    build_tiny_lora(tiny_weights_dir, loras / "style.safetensors", scale=2.0)
    return load_tiny_adapter(tiny_weights_dir, tmp_path_factory.mktemp("data"), lora_dir=loras)


@pytest.fixture(scope="module")
def baseline(adapter: Any) -> np.ndarray:
    """The plain job's pixels, before any LoRA was ever loaded."""
    return pixels(adapter.generate(edit_job(num_inference_steps=STEPS), ignore_steps).image)


def _raise_at_step(step: int, error: Callable[[], Exception]) -> Callable[[int, int], None]:
    def on_step(done: int, total: int) -> None:
        if done == step:
            raise error()

    return on_step


ENDINGS = {
    "cancelled-at-step-1": (_raise_at_step(1, GenerationCancelled), GenerationCancelled, {}),
    "cancelled-at-the-last-step": (
        _raise_at_step(STEPS, GenerationCancelled),
        GenerationCancelled,
        {},
    ),
    "failed-mid-way": (_raise_at_step(2, lambda: PipelineBroke("boom")), PipelineBroke, {}),
    # refused by the call's own checks after the LoRA was applied (width not a multiple of 16)
    "failed-before-the-pipeline": (ignore_steps, ValueError, {"width": 40}),
}


@pytest.mark.parametrize("batched", [False, True], ids=["single", "batch"])
@pytest.mark.parametrize("ending", list(ENDINGS))
def test_a_lora_job_that_does_not_end_normally_leaves_nothing_applied(
    adapter: Any, baseline: np.ndarray, ending: str, batched: bool
) -> None:
    on_step, expected, overrides = ENDINGS[ending]
    job = edit_job(num_inference_steps=STEPS, loras=(("style", 1.0),), **overrides)
    with pytest.raises(expected):
        if batched:
            adapter.generate_batch([job, edit_job(**{**_fields(job), "seed": 8})], on_step)
        else:
            adapter.generate(job, on_step)
    plain = adapter.generate(edit_job(num_inference_steps=STEPS), ignore_steps)
    assert np.array_equal(pixels(plain.image), baseline), (
        f"the LoRA of a job that ended {ending} is still applied to the next plain job"
    )
    assert plain.receipt["loras"] == []


def test_the_lora_does_change_the_output(adapter: Any, baseline: np.ndarray) -> None:
    """The check above means something: with the LoRA on, the pixels differ."""
    styled = adapter.generate(
        edit_job(num_inference_steps=STEPS, loras=(("style", 1.0),)), ignore_steps
    )
    assert not np.array_equal(pixels(styled.image), baseline)
    plain = adapter.generate(edit_job(num_inference_steps=STEPS), ignore_steps)
    assert np.array_equal(pixels(plain.image), baseline)


def _fields(job: Any) -> dict[str, Any]:
    return {name: getattr(job, name) for name in job.__dataclass_fields__}
