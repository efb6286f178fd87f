"""The Python client against a real `editserve serve` process (tiny weights)."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pytest
from fixtures.support import make_png
from PIL import Image

from editserve.client import (
    AsyncClient,
    AuthenticationError,
    Client,
    Event,
    GenerationCancelled,
    InvalidRequestError,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def client(live_server: Any) -> Client:
    with Client(live_server.base_url, live_server.api_key, timeout=30) as client:
        yield client


def test_images_edit_from_a_local_file(client: Client, tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    source.write_bytes(make_png(48, 32))
    result = client.images.edit(
        prompt="Add a funny hat", input_image=source, num_inference_steps=2, seed=123, timeout=120
    )
    assert result.model == "qwen-image-edit-plus" and result.seed == 123
    saved = result.save(tmp_path / "edited.png")
    with Image.open(saved) as image:
        assert image.size == (result.width, result.height)
    gen = client.queue.get(result.generation_id)
    assert gen.succeeded and gen.seed == 123 and gen.timings


def test_queue_wait_streams_real_progress_events(client: Client, tmp_path: Path) -> None:
    pil = Image.open(io.BytesIO(make_png(40, 40, (10, 120, 200))))
    [gen] = client.queue.submit(
        prompt="Make it blue",
        input_image=[pil, make_png()],
        num_inference_steps=4,
        output_format="jpg",
    )
    events: list[Event] = []
    final = client.queue.wait(gen, timeout=120, on_event=events.append)
    assert final.succeeded and final.image is not None
    assert final.image.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG
    progress = [e for e in events if e.type == "media_generation_progress"]
    assert progress and progress[-1].step == progress[-1].total == 4
    assert [e.step for e in progress] == sorted(e.step for e in progress)
    assert events[-1].type == "media_generation_completed" and events[-1].url


def test_cancel_a_running_generation(client: Client) -> None:
    [gen] = client.queue.submit(prompt="slow", input_image=make_png(), num_inference_steps=100)

    def cancel_on_first_step(event: Event) -> None:
        if event.type == "media_generation_progress" and event.step == 1:
            threading.Thread(target=client.queue.cancel, args=(gen,)).start()

    with pytest.raises(GenerationCancelled):
        client.queue.wait(gen, timeout=120, on_event=cancel_on_first_step)
    final = client.queue.get(gen)
    assert final.status == "cancelled" and final.progress and final.progress.step < 100


def test_events_iterator_sees_the_completion(client: Client) -> None:
    [gen] = client.queue.submit(prompt="hat", input_image=make_png(), num_inference_steps=2)
    client.queue.wait(gen, timeout=120)
    # Replay everything of this key and find this generation's completion.
    for event in client.events(last_event_id=0):
        if event.generation_id == gen.generation_id and event.is_terminal:
            assert event.type == "media_generation_completed"
            assert event.status == "succeeded" and event.url
            break


def test_errors_from_a_real_server(live_server: Any, client: Client) -> None:
    with pytest.raises(InvalidRequestError) as info:
        client.queue.submit(prompt="  ", input_image=make_png())
    assert "prompt" in info.value.detail
    with Client(live_server.base_url, "es_not_a_key") as bad, pytest.raises(AuthenticationError):
        bad.queue.list()


async def test_async_client_end_to_end(live_server: Any) -> None:
    async with AsyncClient(live_server.base_url, live_server.api_key) as client:
        result = await client.images.edit(
            prompt="hat", input_image=make_png(), num_inference_steps=2, response_format="b64_json"
        )
        assert (await result.image.ato_pil()).size == (result.width, result.height)
        [gen] = await client.queue.submit(
            prompt="hat", input_image=make_png(), num_inference_steps=2
        )
        seen: list[str] = []
        final = await client.queue.wait(gen, timeout=120, on_event=lambda e: seen.append(e.type))
        assert final.succeeded and "media_generation_progress" in seen
