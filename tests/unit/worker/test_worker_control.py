"""The ``control`` field on a worker: the control picture becomes its map, the job's last
picture (Picture N); the map is stored under its content key, once for the same picture
and settings (a second generation does not compute it again); the generation's receipt
and view name it (``control_map_url``, a lasting link); with ``preprocess: false`` the
picture is the map. POST /api/ai/images/control-map runs as a job on the same worker and
answers a stored map at once the second time. The API half runs in process; the worker is
the real loop over the same store and storage, with a recording adapter (the tiny model
itself: the last test, and tests/e2e/test_control_e2e.py)."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from fixtures.annotators import tiny_annotators  # noqa: F401 - a fixture, used by name
from fixtures.inprocess_app import App
from fixtures.support import TINY_CACHE
from PIL import Image, ImageDraw

from editserve.models.annotators.options import parse_options
from editserve.models.annotators.runtime import compute_map
from editserve.models.base import EditJob, EditResult, LoadedWeights, StepCallback
from editserve.worker import control as worker_control
from editserve.worker.loop import Worker

SIZE = (48, 32)


def encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def square() -> Image.Image:
    image = Image.new("RGB", SIZE, (0, 0, 0))
    ImageDraw.Draw(image).rectangle((12, 8, 35, 23), fill=(255, 255, 255))
    return image


PICTURE = encode(Image.new("RGB", SIZE, (200, 40, 40)))
SOURCE = encode(square())


class Records:
    """Keeps every job and paints a flat picture of the job's size."""

    supports_batch = False

    def __init__(self) -> None:
        self.jobs: list[EditJob] = []

    def load(self) -> LoadedWeights:
        return LoadedWeights("tiny-random", None, True, "cpu", "float32")

    def generate(self, job: EditJob, on_step: StepCallback) -> EditResult:
        self.jobs.append(job)
        for step in range(1, job.num_inference_steps + 1):
            on_step(step, job.num_inference_steps)
        return EditResult(Image.new("RGB", (job.width, job.height), (9, 9, 9)))

    def generate_batch(self, jobs: list[EditJob], on_step: StepCallback) -> list[EditResult]:
        return [self.generate(job, on_step) for job in jobs]


@pytest.fixture
def app(tmp_path: Path) -> App:
    # the tiny annotators live beside the tiny model (the repo's .cache/tiny-annotators)
    return App(tmp_path, models=["qwen-image-edit-plus"], tiny_weights_dir=TINY_CACHE)


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(app.app) as client:
        client.headers["Authorization"] = f"Bearer {app.key}"
        yield client


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The types of the maps the worker computes (not those it finds stored)."""
    calls: list[str] = []
    real = worker_control.compute_map

    def counting(picture: Image.Image, options: Any, **kwargs: Any) -> Image.Image:
        calls.append(options.type)
        return real(picture, options, **kwargs)

    monkeypatch.setattr(worker_control, "compute_map", counting)
    return calls


def make_worker(app: App, adapter: Any) -> Worker:
    services = app.services
    worker = Worker(
        services.settings,
        worker_id="w-control",
        store=services.store,
        storage=services.storage,
        adapter=adapter,
    )
    worker.load()
    return worker


def run_all(worker: Worker) -> None:
    while worker.run_once():
        pass


def enqueue(client: TestClient, control: dict[str, Any], **fields: Any) -> str:
    body = {
        "model": "qwen-image-edit-plus",
        "prompt": "the person of Picture 1 in the pose of Picture 2",
        "input_image": [data_uri(PICTURE)],
        "num_inference_steps": 2,
        "control": control,
        **fields,
    }
    response = client.post("/api/ai/queue", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["generations"][0]["generation_id"])


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB")).astype(np.int16)


def test_a_canny_map_is_the_last_picture_computed_once_and_shown(
    app: App, client: TestClient, computed: list[str]
) -> None:
    adapter = Records()
    worker = make_worker(app, adapter)
    control = {"type": "canny", "image": data_uri(SOURCE), "low_threshold": 50}
    first, second = enqueue(client, control), enqueue(client, control, seed=7)
    run_all(worker)
    assert computed == ["canny"]  # the same picture and settings: one computation
    assert len(adapter.jobs) == 2
    expected = compute_map(square(), parse_options({"type": "canny", "low_threshold": 50}))
    for job in adapter.jobs:
        assert len(job.images) == 2  # Picture 1, then the map: Picture 2
        assert job.images[0].getpixel((0, 0)) == (200, 40, 40)
        assert np.array_equal(pixels(job.images[1]), pixels(expected))
    views = [client.get(f"/api/ai/queue/{gen_id}").json() for gen_id in (first, second)]
    assert [view["status"] for view in views] == ["succeeded", "succeeded"]
    assert views[0]["receipt"]["control_map"] == views[1]["receipt"]["control_map"]
    key = views[0]["receipt"]["control_map"]
    assert key.startswith("maps/") and views[0]["receipt"]["control_type"] == "canny"
    assert f"/files/{key}" in views[0]["control_map_url"]
    shown = Image.open(io.BytesIO(client.get(views[0]["control_map_url"]).content))
    assert np.array_equal(pixels(shown), pixels(expected))
    assert "control_map" in views[0]["timings"]


def test_other_settings_are_another_map(app: App, client: TestClient, computed: list[str]) -> None:
    worker = make_worker(app, Records())
    enqueue(client, {"type": "canny", "image": data_uri(SOURCE)})
    enqueue(client, {"type": "canny", "image": data_uri(SOURCE), "high_threshold": 150})
    enqueue(client, {"type": "scribble", "image": data_uri(SOURCE)})
    run_all(worker)
    assert computed == ["canny", "canny", "scribble"]


def test_with_preprocess_false_the_picture_is_the_map(
    app: App, client: TestClient, computed: list[str]
) -> None:
    adapter = Records()
    worker = make_worker(app, adapter)
    gen_id = enqueue(client, {"type": "pose", "image": data_uri(SOURCE), "preprocess": False})
    run_all(worker)
    assert computed == []
    [job] = adapter.jobs
    assert np.array_equal(pixels(job.images[1]), pixels(square()))
    view = client.get(f"/api/ai/queue/{gen_id}").json()
    assert view["receipt"]["control_map"].startswith("inputs/")
    assert client.get(view["control_map_url"]).content == SOURCE


def test_a_masked_edit_with_control_keeps_the_mask_apart(
    app: App, client: TestClient, computed: list[str]
) -> None:
    adapter = Records()
    worker = make_worker(app, adapter)
    mask = Image.new("L", SIZE, 0)
    mask.paste(255, (4, 4, 20, 20))
    enqueue(client, {"type": "gray", "image": data_uri(SOURCE)}, mask=data_uri(encode(mask)))
    run_all(worker)
    [job] = adapter.jobs
    assert len(job.images) == 2 and job.mask is not None
    assert job.mask.getbbox() == (4, 4, 20, 20)
    assert job.images[1].getpixel((20, 15)) == (255, 255, 255)  # the gray map of the square


@pytest.mark.usefixtures("tiny_annotators")
def test_a_depth_map_runs_on_the_tiny_annotators(
    app: App, client: TestClient, computed: list[str]
) -> None:
    adapter = Records()
    worker = make_worker(app, adapter)
    gen_id = enqueue(client, {"type": "depth", "image": data_uri(SOURCE)})
    run_all(worker)
    assert computed == ["depth"]
    [job] = adapter.jobs
    assert job.images[1].size == SIZE
    assert client.get(f"/api/ai/queue/{gen_id}").json()["status"] == "succeeded"


def test_the_control_map_endpoint_runs_a_job_then_answers_from_storage(
    app: App, client: TestClient, computed: list[str]
) -> None:
    adapter = Records()
    worker = make_worker(app, adapter)
    done = threading.Event()

    def work() -> None:
        while not done.is_set():
            if not worker.run_once():
                done.wait(0.02)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        body = {"type": "scribble", "image": data_uri(SOURCE), "thickness": 3}
        first = client.post("/api/ai/images/control-map", json=body)
        second = client.post("/api/ai/images/control-map", json=body)
    finally:
        done.set()
        thread.join(10)
    assert first.status_code == 200, first.text
    made, again = first.json(), second.json()
    assert made["cached"] is False and made["generation_id"]
    assert (made["type"], made["width"], made["height"]) == ("scribble", *SIZE)
    assert again["cached"] is True and again["url"] == made["url"]
    assert computed == ["scribble"] and adapter.jobs == []  # no pipeline run
    expected = compute_map(square(), parse_options({"type": "scribble", "thickness": 3}))
    shown = Image.open(io.BytesIO(client.get(made["url"]).content))
    assert np.array_equal(pixels(shown), pixels(expected))
    job = client.get(f"/api/ai/queue/{made['generation_id']}").json()
    assert job["status"] == "succeeded" and job["control_map"]["type"] == "scribble"
    # the map's link is an input: as a ready map (preprocess false) in an edit
    gen_id = enqueue(client, {"type": "scribble", "image": made["url"], "preprocess": False})
    run_all(worker)
    assert client.get(f"/api/ai/queue/{gen_id}").json()["status"] == "succeeded"
    assert np.array_equal(pixels(adapter.jobs[0].images[1]), pixels(expected))


@pytest.mark.slow
def test_a_canny_edit_runs_on_the_tiny_model(
    app: App, client: TestClient, computed: list[str], tiny_weights_dir: Path
) -> None:
    settings = app.services.settings.model_copy(update={"model_weights": "tiny"})
    worker = Worker(
        settings, worker_id="w-tiny", store=app.services.store, storage=app.services.storage
    )
    worker.load()
    gen_id = enqueue(client, {"type": "canny", "image": data_uri(SOURCE)}, preview=True)
    run_all(worker)
    view = client.get(f"/api/ai/queue/{gen_id}").json()
    assert view["status"] == "succeeded", view["error_message"]
    assert computed == ["canny"] and view["control_map_url"]
    assert view["receipt"]["weights"]["is_tiny"] is True
