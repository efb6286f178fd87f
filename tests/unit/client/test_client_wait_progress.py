"""`queue.wait(on_event=...)` reports each (stage, step) once, in order: the event stream and
the safety polls overlap (a poll sees a step whose event is still on its way, a reconnection
replays), and a progress bar must not count a step twice or go backwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures.inprocess_app import BASE, App, SyncASGITransport, png

from editserve.client import Client, Event
from editserve.client import _base as client_base
from editserve.client._base import QUEUED_EVENT, WaitState
from editserve.client._types import Generation

GEN_ID = "g1"
STARTED, PROGRESS = "media_generation_started", "media_generation_progress"
COMPLETED = "media_generation_completed"


def streamed(type_: str, **data: Any) -> Event:
    return Event(type_, {"generation_id": GEN_ID, **data})


def polled(status: str, **fields: Any) -> Generation:
    return Generation.from_json({"generation_id": GEN_ID, "status": status, **fields})


def step(event: Event) -> tuple[str, Any, Any]:
    """What a progress bar shows of an event."""
    if event.type == QUEUED_EVENT:
        return ("queued", event.data.get("queue_position"), None)
    return (event.type.removeprefix("media_generation_"), event.stage, event.step)


def test_each_stage_and_step_reaches_the_callback_once_and_in_order() -> None:
    seen: list[Event] = []
    state = WaitState(GEN_ID, seen.append)
    running = {"attempts": 1, "progress": {"step": 2, "total": 4}, "stage": "denoising"}
    state.polled(polled("queued", queue_position=1, attempts=0))
    state.polled(polled("queued", queue_position=1, attempts=0))  # nothing moved
    state.polled(polled("queued", queue_position=0, attempts=0))
    state.event(streamed(STARTED, status="processing", attempt=1))
    state.polled(polled("processing", attempts=1, stage="starting"))  # the same start
    state.event(streamed(PROGRESS, status="processing", step=1, total=4, stage="denoising"))
    state.polled(polled("processing", **running))  # a poll sees step 2 first ...
    state.event(streamed(PROGRESS, status="processing", step=2, total=4, stage="denoising"))
    state.event(streamed(PROGRESS, status="processing", step=1, total=4, stage="denoising"))
    state.event(streamed(PROGRESS, status="processing", step=4, total=4, stage="decoding"))
    state.polled(polled("processing", **{**running, "progress": {"step": 4, "total": 4}}))
    state.polled(polled("processing", **{**running, "progress": {"step": 4, "total": 4},
                                         "stage": "storing"}))  # fmt: skip
    state.event(streamed(PROGRESS, status="processing", step=4, total=4, stage="decoding"))
    state.event(streamed(COMPLETED, status="succeeded", result_key="outputs/x.png"))
    state.event(streamed(COMPLETED, status="succeeded", result_key="outputs/x.png"))  # replay

    assert [step(e) for e in seen] == [
        ("queued", 1, None),
        ("queued", 0, None),
        ("started", None, None),
        ("progress", "denoising", 1),
        ("progress", "denoising", 2),
        ("progress", "decoding", 4),
        ("progress", "storing", 4),
        ("completed", None, None),
    ]


def test_a_new_attempt_after_a_lost_worker_is_reported_from_its_start() -> None:
    seen: list[Event] = []
    state = WaitState(GEN_ID, seen.append)
    state.event(streamed(STARTED, status="processing", attempt=1))
    state.event(streamed(PROGRESS, status="processing", step=3, total=4, stage="denoising"))
    # The worker died; the generation waits for its second attempt, which starts over.
    state.polled(polled("queued", queue_position=0, attempts=1))
    state.event(streamed(STARTED, status="processing", attempt=2))
    state.event(streamed(PROGRESS, status="processing", step=1, total=4, stage="denoising"))
    state.event(streamed(STARTED, status="processing", attempt=1))  # late, of the first

    assert [step(e) for e in seen] == [
        ("started", None, None),
        ("progress", "denoising", 3),
        ("queued", 0, None),
        ("started", None, None),
        ("progress", "denoising", 1),
    ]


def test_the_end_seen_by_a_poll_is_reported_once_like_the_streams() -> None:
    seen: list[Event] = []
    state = WaitState(GEN_ID, seen.append)
    state.polled(polled("succeeded", attempts=1, result_url="http://x/outputs/x.png"))
    state.event(streamed(COMPLETED, status="succeeded", url="http://x/outputs/x.png"))
    assert [(e.type, e.status, e.url) for e in seen] == [
        (COMPLETED, "succeeded", "http://x/outputs/x.png")
    ]
    failed: list[Event] = []
    WaitState(GEN_ID, failed.append).polled(polled("failed", error_message="it broke"))
    assert [(e.type, e.status, e.error) for e in failed] == [(COMPLETED, "failed", "it broke")]


# --- the same against the real app, with a poll before every event ----------------------------


@pytest.fixture
def server(tmp_path: Path) -> App:
    return App(tmp_path)


@pytest.fixture
def client(server: App) -> Iterator[Client]:
    transport = SyncASGITransport(server.app)
    with Client(BASE, server.key, transport=transport, timeout=10) as client:
        yield client
    transport.close()


def test_wait_with_a_safety_poll_at_every_event_reports_no_step_twice(
    server: App, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The safety poll is due at every event (it is every 15 s): each event then also
    # arrives as what the poll saw just before it.
    monkeypatch.setattr(client_base, "SAFETY_POLL_SECONDS", 0.0)
    [gen] = client.queue.submit(prompt="hat", input_image=png(), num_inference_steps=5)
    server.run_worker(steps=5, delay=0.1)
    seen: list[Event] = []
    final = client.queue.wait(gen, timeout=20, on_event=seen.append)
    assert final.succeeded

    shown = [step(e) for e in seen]
    assert len(shown) == len(set(shown)), f"reported twice: {shown}"
    steps = [e.step for e in seen if e.type == PROGRESS]
    assert steps == sorted(steps) and steps[-1] == 5
    assert shown[-1][0] == "completed"


def test_wait_by_polling_reports_each_step_once_and_the_end(server: App, client: Client) -> None:
    [gen] = client.queue.submit(prompt="hat", input_image=png(), num_inference_steps=3)
    server.run_worker(steps=3, delay=0.1)
    seen: list[Event] = []
    final = client.queue.wait(
        gen, timeout=20, on_event=seen.append, use_events=False, poll_interval=0.02
    )
    assert final.succeeded
    shown = [step(e) for e in seen]
    assert len(shown) == len(set(shown)), f"reported twice: {shown}"
    assert seen[-1].type == COMPLETED and seen[-1].url == final.result_url
