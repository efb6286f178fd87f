"""Structured logs: with EDITSERVE_LOG_FORMAT=json every line is one JSON object, and what
a worker logs while running a generation carries its generation id, worker id and stage."""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from editserve.blobs.local import LocalStorage
from editserve.core.logs import log_context, make_handler
from editserve.core.settings import Settings
from editserve.domain.record import Generation, Status
from editserve.models.base import EditJob, EditResult, LoadedWeights, StepCallback
from editserve.store.sqlite import SqliteStore
from editserve.worker.loop import Worker
from editserve.worker.ready import ready_line, weights_record

adapter_log = logging.getLogger("editserve.models.fixture")


class LogsAndFails:
    supports_batch = False

    def load(self) -> LoadedWeights:
        return LoadedWeights("fixture", None, True, "cpu", "float32")

    def generate(self, job: EditJob, on_step: StepCallback) -> EditResult:
        on_step(1, job.num_inference_steps)
        adapter_log.info("inside the pipeline")  # knows nothing of ids: the context does
        raise RuntimeError("boom")


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = make_handler("json")
    handler.setStream(stream)  # type: ignore[attr-defined]
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_worker_logs_carry_generation_worker_and_stage(
    tmp_path: Path, json_lines: io.StringIO
) -> None:
    settings = Settings(data_dir=tmp_path, progress_interval_seconds=0)
    store = SqliteStore(tmp_path / "db.sqlite")
    storage = LocalStorage(tmp_path / "files")
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    storage.put("inputs/a.png", buffer.getvalue(), "image/png")
    gen = Generation(
        id=str(uuid.uuid4()), owner="k", model="qwen-image-edit-plus", status=Status.QUEUED,
        params={"prompt": "p", "input_image": ["x"], "num_inference_steps": 3},
        inputs=[{"key": "inputs/a.png", "width": 8, "height": 8}], batch_id="b",
        batch_index=0, seed=1, width=64, height=64, area=4096, enqueued_at=time.time(),
    )  # fmt: skip
    store.insert_generations([gen])
    worker = Worker(
        settings, worker_id="w-log", store=store, storage=storage, adapter=LogsAndFails()
    )
    worker.load()
    assert worker.run_once()
    entries = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    inside = [e for e in entries if e["message"] == "inside the pipeline"]
    assert inside and inside[0]["generation_id"] == gen.id
    assert inside[0]["worker_id"] == "w-log" and inside[0]["stage"] == "denoising"
    assert inside[0]["logger"] == "editserve.models.fixture" and inside[0]["level"] == "info"
    failed = [e for e in entries if e["level"] == "error" and e.get("generation_id") == gen.id]
    assert failed and "boom" in failed[0]["message"]  # the details go to the log, by id
    # outside a run, no context
    adapter_log.info("idle")
    idle = json.loads(json_lines.getvalue().splitlines()[-1])
    assert idle["message"] == "idle" and "generation_id" not in idle


def test_extra_fields_override_the_context_and_text_format_shows_them() -> None:
    stream = io.StringIO()
    handler = make_handler("text")
    handler.setStream(stream)  # type: ignore[attr-defined]
    log = logging.getLogger("editserve.test_logs")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        with log_context(generation_id="g1", worker_id="w1", stage="storing"):
            log.info("stored", extra={"stage": "finishing"})
    finally:
        log.removeHandler(handler)
        log.propagate = True
    assert (
        stream.getvalue()
        .rstrip()
        .endswith("stored [generation_id=g1 worker_id=w1 stage=finishing]")
    )


class LoadsLikeTheRealModel(LogsAndFails):
    """Loaded weights with details as big as the real adapter's (scheduler, versions, …)."""

    def load(self) -> LoadedWeights:
        details = {
            "pipeline": "QwenImageEditPlusPipeline",
            "options": {"memory_mode": "none", "lightning": "8", "quantization": "none"},
            "scheduler": {f"setting_{n}": n for n in range(40)},
            "versions": {"torch": "2.9.1", "diffusers": "0.36.0", "transformers": "4.57.0"},
            "load_seconds": 80.24,
            "warmup_seconds": 15.06,
            "parameters": {"transformer": 20_430_401_088, "text_encoder": 8_292_166_656},
            "weights_hash": {"sha256": "51fc" * 16, "files": 15, "bytes": 57_000_000_000},
            "cuda_device_name": "NVIDIA H100 80GB HBM3",
            "cuda_capability": "9.0",
        }
        return LoadedWeights(
            "Qwen/Qwen-Image-Edit-2509", "a" * 40, False, "cuda:0", "bfloat16", details
        )


def test_the_ready_line_is_one_readable_line_and_the_details_go_to_debug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqliteStore(tmp_path / "db.sqlite")
    worker = Worker(
        Settings(data_dir=tmp_path), worker_id="w-ready", store=store,
        storage=LocalStorage(tmp_path / "files"), adapter=LoadsLikeTheRealModel(),
    )  # fmt: skip
    worker.stop_event.set()  # load, say ready, stop
    with caplog.at_level(logging.DEBUG, logger="editserve.worker"):
        assert worker.run() == 0
    said = [r for r in caplog.records if r.levelno == logging.INFO and "ready" in r.getMessage()]
    assert len(said) == 1
    line = said[0].getMessage()
    assert "\n" not in line and len(line) < 200, line
    assert line.startswith("worker w-ready: ready in ")
    assert line.endswith(
        "(load 80.2 s, warm-up 15.1 s): qwen-image-edit-plus on cuda:0 (NVIDIA H100 80GB "
        "HBM3), bfloat16, weights Qwen/Qwen-Image-Edit-2509 at aaaaaaaaaaaa"
    )
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("setting_39" in message and "weights_hash" in message for message in debug)


def test_the_ready_line_names_tiny_and_folder_weights() -> None:
    tiny = weights_record(
        "qwen-image-edit-plus",
        LoadedWeights("tiny-random", None, True, "cpu", "float32", {"auto_fallback": "no CUDA"}),
    )
    assert ready_line(tiny, 8.4) == (
        "ready in 8.4 s: qwen-image-edit-plus on cpu, float32, tiny random weights (no CUDA device)"
    )
    folder = weights_record(
        "qwen-image-edit-plus",
        LoadedWeights(
            "/models/qwen", None, False, "cuda:1", "bfloat16", {"folder": "/models/qwen"}
        ),
    )
    assert ready_line(folder, None) == (
        "ready: qwen-image-edit-plus on cuda:1, bfloat16, weights from the folder /models/qwen"
    )
