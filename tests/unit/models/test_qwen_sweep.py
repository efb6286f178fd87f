"""A sweep on the tiny model: the prompt and the pictures are encoded once for all its
calls (worker/sweep.py with the adapter's shared_encodings), and every cell equals that
cell run alone as an ordinary request with its seed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixtures.qwen import edit_job, load_tiny_adapter
from fixtures.qwen import ignore_steps as _ignore
from fixtures.qwen import pixels as _pixels
from PIL import Image

from editserve.models.base import EditJob
from editserve.models.qwen_image_edit.runtime.adapter import QwenImageEditPlusAdapter
from editserve.worker.sweep import run_calls

pytestmark = pytest.mark.slow

SEEDS = (1, 2, 3)
CFGS = (1.5, 2.5, 4.0)


def _job(seed: int, cfg: float, **overrides: Any) -> EditJob:
    image = Image.new("RGB", (64, 48), (200, 30, 40))
    base = {"images": [image], "seed": seed, "true_cfg_scale": cfg, "num_inference_steps": 2}
    return edit_job(**{**base, **overrides})


@pytest.fixture(scope="module")
def adapter(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return load_tiny_adapter(tiny_weights_dir, tmp_path_factory.mktemp("sweep"))


@contextmanager
def counted(adapter: QwenImageEditPlusAdapter) -> Iterator[dict[str, int]]:
    """How often the text encoder and the VAE's encoder run (forward hooks)."""
    pipe = adapter.pipeline
    counts = {"text_encoder": 0, "vae_encoder": 0}

    def counter(name: str) -> Any:
        def hook(*_args: Any) -> None:
            counts[name] += 1

        return hook

    handles = [
        pipe.text_encoder.register_forward_hook(counter("text_encoder")),
        pipe.vae.encoder.register_forward_hook(counter("vae_encoder")),
    ]
    try:
        yield counts
    finally:
        for handle in handles:
            handle.remove()


def _grid() -> list[EditJob]:
    """3 seeds × 3 CFG values, row-major over (cfg, seed): cells differing by seed adjoin."""
    return [_job(seed, cfg) for cfg in CFGS for seed in SEEDS]


def test_a_nine_cell_sweep_encodes_the_prompt_and_the_picture_once(
    adapter: QwenImageEditPlusAdapter,
) -> None:
    jobs = _grid()
    calls = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]  # one batched call per CFG value
    steps: list[tuple[int, int]] = []
    with counted(adapter) as shared:
        results = run_calls(adapter, jobs, calls, lambda k, n: steps.append((k, n)))
    # true CFG: the prompt and the negative prompt, each once; the one picture once
    assert shared == {"text_encoder": 2, "vae_encoder": 1}
    assert steps == [(k, 6) for k in range(1, 7)]  # one progress over the three calls
    assert results[-1].receipt["shared_encodings"] == {
        "prompt_encodes": 2, "prompt_reuses": 4, "picture_encodes": 1, "picture_reuses": 2,
    }  # fmt: skip
    # ...where nine ordinary requests encode them nine times each
    with counted(adapter) as alone:
        singles = [adapter.generate(job, _ignore) for job in jobs]
    assert alone == {"text_encoder": 18, "vae_encoder": 9}
    for index, (cell, single) in enumerate(zip(results, singles, strict=True)):
        ours, theirs = _pixels(cell.image), _pixels(single.image)
        # batched matmuls round differently from single ones: equal within float noise
        assert np.abs(ours - theirs).max() <= 2, index
        assert np.abs(ours - theirs).mean() < 0.1, index
        for name in ("seed", "true_cfg_scale", "steps", "negative_prompt", "width", "height"):
            assert cell.receipt[name] == single.receipt[name]
    assert not np.array_equal(_pixels(results[0].image), _pixels(results[3].image))


def test_cached_encodings_give_bit_exact_cells_when_nothing_is_batched(
    adapter: QwenImageEditPlusAdapter,
) -> None:
    """Calls of one job each (a sweep without a seed axis): the encodings come from the
    cache, and each cell is bit for bit its ordinary single run."""
    jobs = [_job(7, cfg) for cfg in CFGS] + [_job(7, 4.0, num_inference_steps=3)]
    with counted(adapter) as shared:
        results = run_calls(adapter, jobs, [[0], [1], [2], [3]], _ignore)
    assert shared == {"text_encoder": 2, "vae_encoder": 1}
    for cell, job in zip(results, jobs, strict=True):
        assert np.array_equal(_pixels(cell.image), _pixels(adapter.generate(job, _ignore).image))


def test_other_inputs_are_encoded_anew_and_the_cache_ends_with_the_sweep(
    adapter: QwenImageEditPlusAdapter,
) -> None:
    first = _job(1, 4.0)
    other = replace(first, prompt="another prompt", images=[Image.new("RGB", (64, 48), "blue")])
    with counted(adapter) as counts, adapter.shared_encodings():
        adapter.generate(first, _ignore)
        adapter.generate(other, _ignore)
    assert counts == {"text_encoder": 4, "vae_encoder": 2}  # nothing wrongly reused
    assert "_encode_vae_image" not in vars(adapter.pipeline)  # the class's methods again
    assert "shared_encodings" not in adapter.generate(first, _ignore).receipt
