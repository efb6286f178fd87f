"""The client against the real app, in-process (create_app + a streaming ASGI transport).

No model runs here: a FakeWorker moves generations through the store exactly as a worker
does (claim, progress, finish), which is what the API and the event stream observe.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fixtures.inprocess_app import BASE, OUTPUT, App, StreamingASGITransport, SyncASGITransport, png
from PIL import Image

from editserve.client import (
    AsyncClient,
    AuthenticationError,
    Client,
    Event,
    GenerationCancelled,
    GenerationFailed,
    GenerationTimeout,
    InvalidRequestError,
    NotFoundError,
)


@pytest.fixture
def server(tmp_path: Path) -> App:
    return App(tmp_path)


@pytest.fixture
def client(server: App) -> Iterator[Client]:
    transport = SyncASGITransport(server.app)
    with Client(BASE, server.key, transport=transport, timeout=10) as client:
        yield client
    transport.close()


# --- models, uploads, errors ------------------------------------------------------------------


def test_models_list_and_get_by_id_and_hub_alias(client: Client) -> None:
    [model] = client.models.list()
    assert model.id == "qwen-image-edit-plus"
    assert model.display_name == "Qwen Image Edit - 2509"
    assert model.capabilities == {"input": ["text", "image"], "output": ["image"]}
    assert list(model.parameters)[:2] == ["prompt", "input_image"]
    assert set(model.required) == {"prompt", "input_image"}
    assert client.models.get("Qwen/Qwen-Image-Edit-2509").id == model.id
    with pytest.raises(NotFoundError) as info:
        client.models.get("no-such-model")
    assert info.value.status == 404 and "no-such-model" in info.value.detail


def test_bad_key_and_bad_params_raise_typed_errors(server: App, client: Client) -> None:
    transport = SyncASGITransport(server.app)
    with Client(BASE, "es_wrong", transport=transport) as bad, pytest.raises(AuthenticationError):
        bad.models.list()
    transport.close()
    with pytest.raises(InvalidRequestError) as info:
        client.queue.submit(prompt="hat", input_image=png(), num_inference_steps=500)
    assert info.value.type == "invalid_params"
    assert "num_inference_steps" in info.value.detail
    with pytest.raises(InvalidRequestError, match="unknown field"):
        client.queue.submit(prompt="hat", input_image=png(), strength=0.3)


def test_uploads_from_path_bytes_file_and_pil(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "in.png"
    path.write_bytes(png())
    uploads = [
        client.uploads.create(path),
        client.uploads.create(str(path)),
        client.uploads.create(png((9, 9, 9))),
        client.uploads.create(io.BytesIO(png((8, 8, 8)))),
        client.uploads.create(Image.new("RGB", (20, 10), (0, 0, 255))),
    ]
    for upload in uploads:
        assert upload.url.startswith(f"{BASE}/api/ai/uploads/") and upload.id
    assert (uploads[-1].width, uploads[-1].height) == (20, 10)
    [gen] = client.queue.submit(prompt="hat", input_image=uploads[0])
    assert client.queue.get(gen).params["input_image"] == [uploads[0].url]


def test_local_files_that_are_not_images_are_refused_before_sending(
    client: Client, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="not a PNG"):
        client.queue.submit(prompt="x", input_image=str(tmp_path / "notes.txt"))
    with pytest.raises(FileNotFoundError):
        client.queue.submit(prompt="x", input_image="missing.png")


# --- the queue --------------------------------------------------------------------------------


def test_submit_get_list_cancel_and_history(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(png())
    gens = client.queue.submit(
        prompt="a hat", input_image=[path, png((0, 0, 0))], num_generations=2, seed=41
    )
    assert [g.status for g in gens] == ["queued", "queued"]
    first = client.queue.get(gens[0].generation_id)
    assert first.prompt == "a hat" and first.model_name == "qwen-image-edit-plus"
    assert first.seed == 41 and client.queue.get(gens[1]).seed == 42
    assert first.queue_position == 0 and len(first.input_urls) == 2
    assert {g.generation_id for g in client.queue.list()} == {g.generation_id for g in gens}

    cancelled = client.queue.cancel(gens[0])
    assert cancelled.status == "cancelled" and cancelled.done and not cancelled.succeeded
    assert [g.generation_id for g in client.queue.list()] == [gens[1].generation_id]
    assert [g.status for g in client.queue.list(status=["cancelled"])] == ["cancelled"]

    page = client.generations.list(page_size=1)
    assert (page.total_entries, page.total_pages, len(page), page.has_next) == (2, 2, 1, True)
    assert len(list(client.generations.iter_all(page_size=1))) == 2
    assert client.generations.get(gens[0]).status == "cancelled"
    with pytest.raises(NotFoundError):
        client.queue.get("00000000-0000-0000-0000-000000000000")


def test_wait_follows_events_to_success_and_fetches_the_image(
    server: App, client: Client, tmp_path: Path
) -> None:
    [gen] = client.queue.submit(prompt="hat", input_image=png(), num_inference_steps=3)
    events: list[Event] = []
    server.run_worker(steps=3)
    final = client.queue.wait(gen, timeout=20, on_event=events.append)
    assert final.succeeded and final.result_url and final.progress is not None
    assert final.read_bytes() == OUTPUT
    assert final.to_pil().size == (16, 16)
    saved = final.save(tmp_path / "out")  # a folder that does not exist yet is a file name
    assert saved.read_bytes() == OUTPUT
    (tmp_path / "folder").mkdir()
    assert final.save(tmp_path / "folder").name == f"{gen.generation_id}.png"

    types = [e.type for e in events]
    assert "media_generation_started" in types
    steps = [(e.step, e.total, e.stage) for e in events if e.type == "media_generation_progress"]
    assert steps[-1] == (3, 3, "decoding")
    assert [s for s, _, _ in steps] == sorted(s for s, _, _ in steps)
    assert types[-1] == "media_generation_completed"
    assert events[-1].url and events[-1].status == "succeeded"


def test_wait_raises_generation_failed_with_the_message(server: App, client: Client) -> None:
    [gen] = client.queue.submit(prompt="hat", input_image=png())
    server.run_worker(steps=1, outcome="fail")
    with pytest.raises(GenerationFailed) as info:
        client.queue.wait(gen, timeout=20)
    assert info.value.generation_id == gen.generation_id
    assert "exploded" in info.value.detail
    assert info.value.generation is not None and info.value.generation.status == "failed"
    final = client.queue.wait(gen, raise_on_error=False)
    assert final.status == "failed" and final.error_message


def test_wait_times_out_without_losing_the_generation(client: Client) -> None:
    [gen] = client.queue.submit(prompt="hat", input_image=png())
    started = time.monotonic()
    with pytest.raises(GenerationTimeout) as info:
        client.queue.wait(gen, timeout=0.5)
    assert time.monotonic() - started < 5
    assert info.value.generation_id == gen.generation_id
    assert info.value.generation_status == "queued"
    assert client.queue.get(gen).status == "queued"


def test_cancel_while_running_ends_the_wait_with_cancelled(server: App, client: Client) -> None:
    [gen] = client.queue.submit(prompt="hat", input_image=png())
    server.run_worker(steps=50, delay=0.05)
    events: list[Event] = []

    def cancel_when_running(event: Event) -> None:
        events.append(event)
        if event.type == "media_generation_progress" and event.step == 2:
            threading.Thread(target=lambda: client.queue.cancel(gen)).start()

    with pytest.raises(GenerationCancelled) as info:
        client.queue.wait(gen, timeout=20, on_event=cancel_when_running)
    assert info.value.generation is not None and info.value.generation.status == "cancelled"
    assert events[-1].type == "media_generation_cancelled"


def test_wait_by_polling_reports_the_same_progress(server: App, client: Client) -> None:
    [gen] = client.queue.submit(prompt="hat", input_image=png())
    events: list[Event] = []
    server.run_worker(steps=3, delay=0.15)
    final = client.queue.wait(
        gen, timeout=20, on_event=events.append, use_events=False, poll_interval=0.02
    )
    assert final.succeeded
    assert events[0].type in ("media_generation_queued", "media_generation_started")
    assert any(e.type == "media_generation_progress" and e.total == 3 for e in events)


# --- events -----------------------------------------------------------------------------------


def test_events_stream_and_replay_from_last_event_id(server: App, client: Client) -> None:
    [a, b] = client.queue.submit(prompt="hat", input_image=png(), num_generations=2)
    client.queue.cancel(a)
    client.queue.cancel(b)
    # Nothing new arrives on a fresh stream; a replay from id 0 gives both cancellations.
    replayed = []
    for event in client.events(last_event_id=0):
        replayed.append(event)
        if len(replayed) == 2:
            break
    assert [e.type for e in replayed] == ["media_generation_cancelled"] * 2
    assert [e.generation_id for e in replayed] == [a.generation_id, b.generation_id]
    after_first = next(iter(client.events(last_event_id=replayed[0].id)))
    assert after_first.id == replayed[1].id


# --- the synchronous edit ---------------------------------------------------------------------


def test_images_edit_returns_the_image(server: App, client: Client, tmp_path: Path) -> None:
    server.run_worker(steps=2)
    result = client.images.edit(prompt="hat", input_image=png(), seed=7, timeout=30)
    assert result.model == "qwen-image-edit-plus"
    assert result.seed == 7 and result.generation_id and result.url
    assert result.image.generation_id == result.generation_id
    assert result.read_bytes() == OUTPUT
    assert result.save(tmp_path / "edited.png").read_bytes() == OUTPUT

    server.run_worker(steps=1)
    b64 = client.images.edit(prompt="hat", input_image=png(), response_format="b64_json")
    assert b64.url is None and b64.images[0].b64_json and b64.read_bytes() == OUTPUT


def test_images_edit_keeps_waiting_after_a_server_504(tmp_path: Path) -> None:
    server = App(tmp_path, sync_timeout_seconds=0.3)
    transport = SyncASGITransport(server.app)
    with Client(BASE, server.key, transport=transport) as client:
        server.run_worker(steps=3, delay=0.3)
        result = client.images.edit(prompt="hat", input_image=png(), timeout=30)
        assert result.read_bytes() == OUTPUT and result.generation_id
        with pytest.raises(GenerationTimeout) as info:  # no worker this time
            client.images.edit(prompt="hat", input_image=png(), timeout=1.0)
        assert client.queue.get(info.value.generation_id).status == "queued"
    transport.close()


def test_images_edit_failed_raises_generation_failed(server: App, client: Client) -> None:
    server.run_worker(steps=1, outcome="fail")
    with pytest.raises(GenerationFailed) as info:
        client.images.edit(prompt="hat", input_image=png())
    assert info.value.status == 500 and info.value.generation_id


# --- the async client -------------------------------------------------------------------------


async def test_async_client_with_httpx_asgi_transport(server: App) -> None:
    transport = httpx.ASGITransport(app=server.app)
    async with AsyncClient(BASE, server.key, transport=transport) as client:
        [model] = await client.models.list()
        assert model.id == "qwen-image-edit-plus"
        upload = await client.uploads.create(png())
        [gen] = await client.queue.submit(prompt="hat", input_image=[upload, png()])
        assert (await client.queue.get(gen)).status == "queued"
        assert [g.generation_id for g in await client.queue.list()] == [gen.generation_id]
        assert (await client.queue.cancel(gen)).status == "cancelled"
        page = await client.generations.list()
        assert page.total_entries == 1
        assert [g.generation_id async for g in client.generations.iter_all()] == [gen.generation_id]
        with pytest.raises(NotFoundError):
            await client.generations.get("nope")


async def test_async_wait_events_and_edit(server: App, tmp_path: Path) -> None:
    async with AsyncClient(
        BASE, server.key, transport=StreamingASGITransport(server.app)
    ) as client:
        [gen] = await client.queue.submit(prompt="hat", input_image=png())
        events: list[Event] = []
        server.run_worker(steps=3)
        final = await client.queue.wait(gen, timeout=20, on_event=events.append)
        assert final.succeeded and await final.aread_bytes() == OUTPUT
        assert (await final.asave(tmp_path / "a.png")).read_bytes() == OUTPUT
        assert any(e.type == "media_generation_progress" for e in events)

        replay = []
        async for event in client.events(last_event_id=0):
            replay.append(event.type)
            if event.type == "media_generation_completed":
                break
        assert replay[0] == "media_generation_started"

        server.run_worker(steps=1)
        result = await client.images.edit(prompt="hat", input_image=png())
        assert await result.aread_bytes() == OUTPUT
        assert (await result.image.ato_pil()).size == (16, 16)
