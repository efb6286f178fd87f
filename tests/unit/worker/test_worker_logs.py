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
