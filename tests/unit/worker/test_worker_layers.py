"""A layered model's generation on the worker: every layer is stored as an RGBA PNG under its
own key (``outputs/<id>-layer-<n>.png``), in order; the first is the result; the record
lists them all and the generation's view gives each a lasting link. A layer that cannot be
stored fails the generation and takes the stored ones with it. (A fake adapter: the tiny
model's layers are test_qwen_image_layered_runtime.py's.)"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from fixtures.worker import queued
from PIL import Image

from editserve.blobs import LocalStorage
from editserve.blobs.links import link_maker
from editserve.blobs.signing import UrlSigner
from editserve.core.settings import Settings
from editserve.domain.record import Status
from editserve.models.base import EditJob, EditResult, LoadedWeights, StepCallback
from editserve.services.wire import GenerationView
from editserve.store.sqlite import SqliteStore
from editserve.worker.batch import output_keys
from editserve.worker.loop import Worker

MODEL = "qwen-image-layered"
# One colour per layer, so that the order can be read back from the stored files.
COLOURS = [(255, 0, 0, 255), (0, 255, 0, 128), (0, 0, 255, 0), (9, 9, 9, 9)]


class PaintsLayers:
    """Paints one flat RGBA layer per asked layer, each its own colour."""

    supports_batch = False

    def __init__(self) -> None:
        self.jobs: list[EditJob] = []

    def load(self) -> LoadedWeights:
        return LoadedWeights("fixture", None, True, "cpu", "float32")

    def generate(self, job: EditJob, on_step: StepCallback) -> EditResult:
        self.jobs.append(job)
        for step in range(1, job.num_inference_steps + 1):
            on_step(step, job.num_inference_steps)
        count = int(dict(job.pipeline_args)["layers"])
        layers = [Image.new("RGBA", (job.width, job.height), COLOURS[n]) for n in range(count)]
        return EditResult(layers[0], layers=layers)

    def generate_batch(self, jobs: list[EditJob], on_step: StepCallback) -> list[EditResult]:
        raise AssertionError("a layered model runs one job per call")


class RefusesTheThirdLayer(LocalStorage):
    """Every try to store a third layer fails (the worker tries a few times)."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if key.endswith("-layer-3.png"):
            raise PermissionError("read-only")
        super().put(key, data, content_type)


def setup(tmp_path: Path, storage: LocalStorage | None = None) -> tuple[SqliteStore, Worker, Any]:
    settings = Settings(data_dir=tmp_path, models=[MODEL], progress_interval_seconds=0)
    store = SqliteStore(tmp_path / "db.sqlite")
    storage = storage or LocalStorage(tmp_path / "files")
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), (200, 30, 40)).save(buffer, format="PNG")
    storage.put("inputs/a.png", buffer.getvalue(), "image/png")
    worker = Worker(settings, worker_id="w", store=store, storage=storage, adapter=PaintsLayers())
    worker.load()
    return store, worker, storage


def enqueue(store: SqliteStore, layers: int) -> str:
    params = {
        "input_image": ["https://x.test/a.png"],
        "prompt": "",
        "layers": layers,
        "num_inference_steps": 2,
        "output_format": "png",
    }
    [gen] = queued(store, params=params, size=(24, 16), area=1600, model=MODEL)
    return gen.id


def test_each_layer_is_stored_in_order_as_an_rgba_png_and_the_first_is_the_result(
    tmp_path: Path,
) -> None:
    store, worker, storage = setup(tmp_path)
    gen_id = enqueue(store, 3)
    assert worker.run_once()
    done = store.get_generation(gen_id)
    assert done is not None and done.status is Status.SUCCEEDED, done
    keys = [f"outputs/{gen_id}-layer-{n}.png" for n in (1, 2, 3)]
    assert done.layer_keys == keys and done.result_key == keys[0]
    for key, colour in zip(keys, COLOURS, strict=False):
        layer = Image.open(io.BytesIO(storage.get(key)))
        assert (layer.format, layer.mode, layer.size) == ("PNG", "RGBA", (24, 16))
        assert layer.getpixel((0, 0)) == colour, key  # its transparency kept
    assert not storage.exists(f"outputs/{gen_id}.png")
    # the job asked the pipeline for the request's layers
    assert dict(worker._adapter.jobs[0].pipeline_args)["layers"] == 3  # type: ignore[union-attr]

    # the generation's view: a lasting link per layer, in order; the first is result_url
    signer = UrlSigner(b"k" * 32)
    view = GenerationView.of(done, link_maker(signer, "http://h"))
    assert view.layer_urls is not None and len(view.layer_urls) == 3
    assert [url.split("?")[0] for url in view.layer_urls] == [f"http://h/files/{k}" for k in keys]
    for key, url in zip(keys, view.layer_urls, strict=True):  # lasting links: no expiry
        assert signer.verify_link(key, None, url.split("signature=")[1])
    assert view.result_url == view.layer_urls[0]
    assert '"layer_urls"' in view.model_dump_json()


def test_a_layer_that_cannot_be_stored_fails_the_generation_and_leaves_no_layer(
    tmp_path: Path,
) -> None:
    storage = RefusesTheThirdLayer(tmp_path / "files")
    store, worker, _ = setup(tmp_path, storage)
    gen_id = enqueue(store, 4)
    assert worker.run_once()
    done = store.get_generation(gen_id)
    assert done is not None and done.status is Status.FAILED
    assert done.error_message == (
        "the server's file storage failed while storing the result; try again later"
    )
    assert done.result_key is None and done.layer_keys is None
    assert not any(storage.exists(key) for key in output_keys(gen_id, "png", 4))


def test_one_output_keeps_its_one_key_and_no_layers(tmp_path: Path) -> None:
    assert output_keys("g", "webp") == ["outputs/g.webp"]
    assert output_keys("g", "png", 2) == ["outputs/g-layer-1.png", "outputs/g-layer-2.png"]
    store = SqliteStore(tmp_path / "db.sqlite")
    [gen] = queued(store)
    [held] = store.claim_batch("w", [gen.model], 30, 3, 1)
    assert store.finish(held, "w", Status.SUCCEEDED, result_key=f"outputs/{gen.id}.png")
    done = store.get_generation(gen.id)
    assert done is not None and done.layer_keys is None
    view = GenerationView.of(done, lambda key: key)
    assert view.layer_urls is None and "layer_urls" not in view.model_dump()


def test_a_layer_is_written_by_our_png_writer_with_its_transparency() -> None:
    import numpy as np

    from editserve.worker import output
    from editserve.worker.output import encode_image

    pixels = np.random.default_rng(3).integers(0, 256, (37, 53, 4), dtype=np.uint8)
    layer = Image.fromarray(pixels, "RGBA")
    data, content_type = encode_image(layer, "png", keep_alpha=True)
    assert content_type == "image/png" and data == output._png(layer)  # not Pillow's
    back = Image.open(io.BytesIO(data))
    back.load()  # Pillow checks every chunk's CRC
    assert back.mode == "RGBA" and np.array_equal(np.asarray(back), pixels)
    # the one-picture models' results are RGB, as before
    assert Image.open(io.BytesIO(encode_image(layer, "png")[0])).mode == "RGB"
