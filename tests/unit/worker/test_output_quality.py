"""output_quality: the jpg/webp quality a request asks for is the one its output is encoded
at (worker/output.py encode_image, passed by worker/batch.py); png ignores it."""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from editserve.blobs.local import LocalStorage
from editserve.core.settings import Settings
from editserve.domain.record import Generation, Status
from editserve.models.base import EditJob, EditResult, LoadedWeights, StepCallback
from editserve.store.sqlite import SqliteStore
from editserve.worker.loop import Worker
from editserve.worker.output import encode_image


def noisy(size: tuple[int, int] = (96, 64)) -> Image.Image:
    rng = np.random.default_rng(5)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.mark.parametrize("fmt", ["jpg", "webp"])
def test_quality_changes_the_bytes(fmt: str) -> None:
    image = noisy()
    low, _ = encode_image(image, fmt, 10)
    high, _ = encode_image(image, fmt, 95)
    assert low != high and len(low) < len(high)
    assert encode_image(image, fmt, 95)[0] == high  # the same quality, the same bytes
    decoded = np.asarray(Image.open(io.BytesIO(high)).convert("RGB")).astype(int)
    error_high = np.abs(decoded - np.asarray(image).astype(int)).mean()
    decoded_low = np.asarray(Image.open(io.BytesIO(low)).convert("RGB")).astype(int)
    assert np.abs(decoded_low - np.asarray(image).astype(int)).mean() > error_high


def test_png_is_lossless_whatever_the_quality() -> None:
    image = noisy()
    assert encode_image(image, "png", 10)[0] == encode_image(image, "png", 95)[0]


def test_no_quality_keeps_the_formats_default() -> None:
    image = noisy()
    assert encode_image(image, "jpg")[0] == encode_image(image, "jpg", 95)[0]


class PaintsNoise:
    supports_batch = False

    def load(self) -> LoadedWeights:
        return LoadedWeights("fixture", None, True, "cpu", "float32")

    def generate(self, job: EditJob, on_step: StepCallback) -> EditResult:
        on_step(1, 1)
        return EditResult(noisy((job.width, job.height)))

    def generate_batch(self, jobs: list[EditJob], on_step: StepCallback) -> list[EditResult]:
        return [self.generate(job, on_step) for job in jobs]


def test_the_worker_encodes_at_the_requests_quality(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, progress_interval_seconds=0)
    store = SqliteStore(tmp_path / "db.sqlite")
    storage = LocalStorage(tmp_path / "files")
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    storage.put("inputs/a.png", buffer.getvalue(), "image/png")
    worker = Worker(settings, worker_id="w", store=store, storage=storage, adapter=PaintsNoise())
    worker.load()
    gens = [
        Generation(
            id=str(uuid.uuid4()),
            owner="key_a",
            model="qwen-image-edit-plus",
            status=Status.QUEUED,
            params={
                "prompt": "p",
                "input_image": ["x"],
                "num_inference_steps": 1,
                "output_format": "jpg",
                "output_quality": quality,
            },
            inputs=[{"key": "inputs/a.png", "width": 8, "height": 8}],
            batch_id=str(uuid.uuid4()),
            batch_index=0,
            seed=1,
            width=96,
            height=64,
            area=1024,
            enqueued_at=time.time(),
        )
        for quality in (10, 95)
    ]
    store.insert_generations(gens)
    assert worker.run_once() and worker.run_once()
    low, high = (storage.get(f"outputs/{gen.id}.jpg") for gen in gens)
    assert low == encode_image(noisy((96, 64)), "jpg", 10)[0]
    assert high == encode_image(noisy((96, 64)), "jpg", 95)[0]
    assert len(low) < len(high)
