"""Batching: generations of one request as one pipeline call, each image reproducible alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fixtures.qwen import edit_job, load_tiny_adapter
from fixtures.qwen import ignore_steps as _ignore
from fixtures.qwen import pixels as _pixels
from PIL import Image

from editserve.models.base import EditJob, GenerationCancelled
from editserve.models.qwen_image_edit.runtime.adapter import QwenImageEditPlusAdapter

pytestmark = pytest.mark.slow


def _job(seed: int, **overrides: Any) -> EditJob:
    image = Image.new("RGB", (64, 48), (200, 30, 40))
    values: dict[str, Any] = {
        "images": [image, image.rotate(90, expand=True)],
        "seed": seed,
        "num_inference_steps": 3,
    }
    return edit_job(**{**values, **overrides})


@pytest.fixture(scope="module")
def adapter(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return load_tiny_adapter(tiny_weights_dir, tmp_path_factory.mktemp("batch"))


def test_prepare_latents_draws_each_images_noise_from_its_own_generator(
    adapter: QwenImageEditPlusAdapter,
) -> None:
    """What batching relies on: with a list of generators, diffusers' randn_tensor draws
    image i's initial noise from generators[i] alone — exactly the noise of a batch of one."""
    pipe = adapter.pipeline
    seeds = [11, 12, 13]

    def noise(batch_seeds: list[int]) -> torch.Tensor:
        generators = [torch.Generator().manual_seed(s) for s in batch_seeds]
        latents, _ = pipe.prepare_latents(
            None,
            len(batch_seeds),
            pipe.transformer.config.in_channels // 4,
            64,
            64,
            torch.float32,
            torch.device("cpu"),
            generators if len(generators) > 1 else generators[0],
        )
        return latents  # type: ignore[no-any-return]

    batched = noise(seeds)
    for index, seed in enumerate(seeds):
        assert torch.equal(batched[index : index + 1], noise([seed]))


def test_each_image_of_a_batch_equals_a_single_run_with_its_seed(
    adapter: QwenImageEditPlusAdapter,
) -> None:
    seeds = [5, 6, 7, 8]
    steps: list[tuple[int, int]] = []
    batch = adapter.generate_batch([_job(s) for s in seeds], lambda k, n: steps.append((k, n)))
    assert steps == [(1, 3), (2, 3), (3, 3)]  # one callback per step for the whole batch
    singles = [_pixels(adapter.generate(_job(s), _ignore).image) for s in seeds]
    for index, (result, single) in enumerate(zip(batch, singles, strict=True)):
        ours = _pixels(result.image)
        # Batched matmuls round differently from single ones: equal within float noise.
        assert np.abs(ours - single).max() <= 2
        assert np.abs(ours - single).mean() < 0.1
        assert result.receipt["seed"] == seeds[index]
        assert result.receipt["batch"] == {"size": 4, "index": index}
    # ...and the images are really different from one another.
    assert not np.array_equal(_pixels(batch[0].image), _pixels(batch[1].image))
    assert batch[0].timings == batch[3].timings  # one call: shared stage timings


def test_a_batch_of_one_is_a_single_run(adapter: QwenImageEditPlusAdapter) -> None:
    [result] = adapter.generate_batch([_job(3)], _ignore)
    assert np.array_equal(_pixels(result.image), _pixels(adapter.generate(_job(3), _ignore).image))
    assert adapter.generate_batch([], _ignore) == []


def test_a_batch_may_differ_only_in_seed(adapter: QwenImageEditPlusAdapter) -> None:
    for other in (_job(2, prompt="other"), _job(2, num_inference_steps=4), _job(2, width=96)):
        with pytest.raises(ValueError, match="only in their seed"):
            adapter.generate_batch([_job(1), other], _ignore)


def test_cancelling_a_batch_stops_at_once(adapter: QwenImageEditPlusAdapter) -> None:
    seen: list[int] = []

    def cancel(step: int, total: int) -> None:
        seen.append(step)
        raise GenerationCancelled()

    with pytest.raises(GenerationCancelled):
        adapter.generate_batch([_job(1), _job(2)], cancel)
    assert seen == [1]
    assert adapter.generate(_job(1), _ignore).image.size == (64, 64)
