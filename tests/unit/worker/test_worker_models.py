"""One worker, several models: it holds one model at a time, prefers the loaded model's
jobs, swaps when only other models' jobs wait, and lets no model starve past the bound.

Two fixture specs with fixture adapters stand in for real models (loaded through the
spec's adapter class, as a real one is); a fake clock stands in for time, so the run is
the same on any machine."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, ClassVar

import pytest
from PIL import Image
from pydantic import BaseModel

from editserve.blobs.local import LocalStorage
from editserve.core.settings import Settings
from editserve.domain.record import Generation, Status
from editserve.models.base import EditJob, EditResult, LoadedWeights, ModelLoadError, StepCallback
from editserve.models.registry import ModelRegistry
from editserve.models.spec import ModelSpec, SizePlan
from editserve.store.sqlite import SqliteStore
from editserve.worker import loop
from editserve.worker.loop import Worker

A, B = "fixture-a", "fixture-b"
JOB_SECONDS = 1.0  # what one job takes on the fake clock


class Clock:
    """time.time() and time.monotonic() of the worker loop, moved on by the adapters."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


CLOCK = Clock()


class FixtureAdapter:
    """Paints a flat image per job; records loads, unloads and what ran, in order."""

    supports_batch = False
    model = ""
    in_memory: ClassVar[list[str]] = []
    loads: ClassVar[list[tuple[str, str]]] = []  # (model, the weights it was given)
    ran: ClassVar[list[tuple[str, float]]] = []  # (model, job start on the clock)

    def __init__(self, settings: Settings, device: str | None = None) -> None:
        self.settings = settings

    def load(self) -> LoadedWeights:
        assert not FixtureAdapter.in_memory, "a worker holds one model at a time"
        FixtureAdapter.in_memory.append(self.model)
        FixtureAdapter.loads.append((self.model, self.settings.model_weights))
        return LoadedWeights(f"{self.model}-weights", None, True, "cpu", "float32")

    def unload(self) -> None:
        FixtureAdapter.in_memory.remove(self.model)

    def generate(self, job: EditJob, on_step: StepCallback) -> EditResult:
        FixtureAdapter.ran.append((self.model, CLOCK.now))
        CLOCK.now += JOB_SECONDS
        on_step(1, 1)
        return EditResult(Image.new("RGB", (job.width, job.height)), receipt={"by": self.model})

    def generate_batch(self, jobs: list[EditJob], on_step: StepCallback) -> list[EditResult]:
        raise AssertionError("not a batching adapter")


class AdapterA(FixtureAdapter):
    model = A


class AdapterB(FixtureAdapter):
    model = B


class Params(BaseModel):
    prompt: str


def build_job(params: dict[str, Any], images: list[Any], **size: Any) -> EditJob:
    return EditJob(
        prompt=params["prompt"], images=images, width=size["width"], height=size["height"],
        seed=size["seed"], num_inference_steps=1,
    )  # fmt: skip


def fixture_spec(model_id: str, adapter: str) -> ModelSpec:
    return ModelSpec(
        id=model_id, aliases=(), params_model=Params, card={}, request_schema=dict,
        adapter_path=f"{__name__}:{adapter}", plan_size=lambda *_: SizePlan(8, 8, 64),
        build_job=build_job,
    )  # fmt: skip


REGISTRY = ModelRegistry([fixture_spec(A, "AdapterA"), fixture_spec(B, "AdapterB")])


@pytest.fixture(autouse=True)
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    CLOCK.now = 1_000_000.0
    FixtureAdapter.in_memory.clear()
    FixtureAdapter.loads.clear()
    FixtureAdapter.ran.clear()
    monkeypatch.setattr(loop, "time", CLOCK)


def settings_for(tmp_path: Path, swap_after: float) -> Settings:
    base = Settings(data_dir=tmp_path, progress_interval_seconds=0, max_batch_size=4)
    # fixture models are not in the default registry: set them past its validation
    return base.model_copy(
        update={
            "models": [A, B],
            "model_swap_after_seconds": swap_after,
            "model_weights_per_model": {B: "tiny"},
            "model_weights": "/weights/of/a",
        }
    )


def enqueue_alternating(store: SqliteStore, count: int) -> list[Generation]:
    gens = [
        Generation(
            id=str(uuid.uuid4()),
            owner="key_a",
            model=(A, B)[i % 2],
            status=Status.QUEUED,
            params={"prompt": f"job {i}"},
            inputs=[],
            batch_id=str(uuid.uuid4()),
            batch_index=0,
            seed=i,
            width=8,
            height=8,
            area=64,
            enqueued_at=CLOCK.now,
        )  # fmt: skip
        for i in range(count)
    ]
    for gen in gens:
        store.insert_generations([gen])
    return gens


def run_all(
    tmp_path: Path, swap_after: float, count: int = 50, registry: ModelRegistry = REGISTRY
) -> tuple[Worker, SqliteStore]:
    """Enqueue count jobs alternating A, B (all at once), and run the worker to the end."""
    settings = settings_for(tmp_path, swap_after)
    store = SqliteStore(tmp_path / "db.sqlite")
    storage = LocalStorage(tmp_path / "files")
    enqueue_alternating(store, count)
    worker = Worker(settings, worker_id="w1", registry=registry, store=store, storage=storage)
    worker.load()
    for _ in range(2 * count):  # bounded: every call runs a job until the queue is empty
        if not worker.run_once():
            break
    return worker, store


def longest_wait_while_queued(ran: list[tuple[str, float]]) -> dict[str, float]:
    """Per model: the longest time the worker ran other models' jobs while this model had
    jobs waiting (every job is enqueued at the start, so a model waits until its last)."""
    last_start = {model: start for model, start in ran}
    longest: dict[str, float] = {}
    for model in (A, B):
        since = ran[0][1]
        for other, start in ran:
            if other == model:
                longest[model] = max(longest.get(model, 0.0), start - since)
                since = start + JOB_SECONDS
            if start >= last_start[model]:
                break
    return longest


def test_fifty_alternating_jobs_finish_with_one_swap_when_nothing_starves(
    tmp_path: Path,
) -> None:
    worker, store = run_all(tmp_path, swap_after=3600.0)
    statuses = store.status_counts()
    assert statuses.get((A, Status.SUCCEEDED.value)) == 25
    assert statuses.get((B, Status.SUCCEEDED.value)) == 25
    # A naive FIFO worker swaps on every job (49 times); this one drains A, then B.
    assert worker.swaps == 1
    assert [model for model, _ in FixtureAdapter.ran] == [A] * 25 + [B] * 25
    # Each model's adapter got its own weights: A the shared setting, B its own.
    assert FixtureAdapter.loads == [(A, "/weights/of/a"), (B, "tiny")]
    (row,) = store.list_workers()
    assert row.swaps == 1 and row.model == B and row.models == [A, B]


def test_with_a_bounded_wait_swaps_are_few_and_no_model_starves(tmp_path: Path) -> None:
    bound = 5.0
    worker, store = run_all(tmp_path, swap_after=bound)
    statuses = store.status_counts()
    assert statuses.get((A, Status.SUCCEEDED.value)) == 25
    assert statuses.get((B, Status.SUCCEEDED.value)) == 25
    # One swap per bound at most (50 jobs of 1 s: about 10), far fewer than FIFO's 49.
    assert 2 <= worker.swaps <= 50 * JOB_SECONDS / bound + 1
    # While a model's jobs waited, the other ran at most the bound plus one job.
    for model, waited in longest_wait_while_queued(FixtureAdapter.ran).items():
        assert waited <= bound + JOB_SECONDS, (model, waited)


def test_no_bound_is_fifo(tmp_path: Path) -> None:
    worker, _store = run_all(tmp_path, swap_after=0.0, count=6)
    assert [model for model, _ in FixtureAdapter.ran] == [A, B] * 3
    assert worker.swaps == 5


def test_receipts_name_the_model_its_weights_and_the_swaps(tmp_path: Path) -> None:
    _worker, store = run_all(tmp_path, swap_after=3600.0, count=2)
    page, _total = store.list_generations("key_a", limit=10)
    by_model = {gen.model: gen.receipt["weights"] for gen in page if gen.receipt}
    assert by_model[A]["model"] == A and by_model[A]["source"] == f"{A}-weights"
    assert by_model[A]["swapped_in"] is False and by_model[A]["worker_swaps"] == 0
    assert by_model[B]["model"] == B and by_model[B]["swapped_in"] is True
    assert by_model[B]["worker_swaps"] == 1


class BreaksOnLoad(AdapterB):
    def load(self) -> LoadedWeights:
        raise ModelLoadError("model weights folder '/nope' does not exist")


def test_a_model_that_fails_to_load_fails_its_jobs_and_the_worker_goes_on(
    tmp_path: Path,
) -> None:
    broken = ModelRegistry([fixture_spec(A, "AdapterA"), fixture_spec(B, "BreaksOnLoad")])
    _worker, store = run_all(tmp_path, swap_after=0.0, count=4, registry=broken)
    page, _total = store.list_generations("key_a", limit=10)
    ended = {(gen.model, gen.status, gen.error_message) for gen in page}
    assert ended == {
        (A, Status.SUCCEEDED, None),
        (B, Status.FAILED, "model weights folder '/nope' does not exist"),
    }
    assert len(page) == 4  # a, b, a, b: A loaded again after B failed to load
    assert [model for model, _ in FixtureAdapter.ran] == [A, A]
    assert FixtureAdapter.in_memory == []  # A was unloaded to try B again last
