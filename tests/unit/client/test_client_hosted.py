"""The client against the hosted API's shapes (a recorded-shape fake: a live hosted server
is not reachable from the tests). What differs from editserve: no upload endpoint (local
images go inline as data: URIs), no extension fields, no `id:` lines on the event stream,
and the documented base URL ends with /api/ai."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import httpx
import pytest
from PIL import Image

from editserve.client import AsyncClient, Client, NotFoundError

HOSTED = "https://hub.oxen.ai"
RESULT_URL = "https://cdn.example.com/presigned/out.png?X-Amz-Signature=abc"


def png(color: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), color).save(buffer, "PNG")
    return buffer.getvalue()


class HostedFake:
    """Answers like the hosted API for qwen-image-edit-plus, recording every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.bodies: list[Any] = []
        self.polls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        body = (
            json.loads(request.content) if request.content and path != "/api/ai/uploads" else None
        )
        self.bodies.append(body)
        if request.url.host == "cdn.example.com":
            return httpx.Response(200, content=png(), headers={"Content-Type": "image/png"})
        if path == "/api/ai/uploads":
            return httpx.Response(404, json={"error": "Not Found"})
        if path == "/api/ai/images/edit":
            return httpx.Response(
                200,
                json={
                    "model": "qwen-image-edit-plus",
                    "created": 1761000000,
                    "images": [{"url": RESULT_URL}],
                },
            )
        if path == "/api/ai/queue" and request.method == "POST":
            return httpx.Response(
                200, json={"generations": [{"generation_id": "h-1", "status": "queued"}]}
            )
        if path == "/api/ai/queue/h-1":
            self.polls += 1
            done = self.polls >= 3
            return httpx.Response(
                200,
                json={
                    "generation_id": "h-1",
                    "model_name": "qwen-image-edit-plus",
                    "prompt": "hat",
                    "media_type": "image",
                    "status": "succeeded" if done else "processing",
                    "result_url": RESULT_URL if done else None,
                    "error_message": None,
                    "enqueued_at": 1761000000,
                    "started_at": 1761000001,
                    "completed_at": 1761000009 if done else None,
                    "aspect_ratio": "1:1",
                },
            )
        if path == "/api/events":
            return httpx.Response(404, json={"error": "Not Found"})
        return httpx.Response(404, json={"error": "Not Found"})


@pytest.fixture
def fake() -> HostedFake:
    return HostedFake()


def test_sync_edit_inlines_local_images_when_there_is_no_upload_endpoint(
    fake: HostedFake, tmp_path
) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(png())
    with Client(f"{HOSTED}/api/ai", "oxen-key", transport=httpx.MockTransport(fake)) as client:
        result = client.images.edit(prompt="hat", input_image=[str(path), "https://x.test/a.png"])
        data = result.read_bytes()
    edit_request = next(r for r in fake.requests if r.url.path == "/api/ai/images/edit")
    body = json.loads(edit_request.content)
    assert body["model"] == "qwen-image-edit-plus"
    assert body["input_image"][0].startswith("data:image/png;base64,")
    assert base64.b64decode(body["input_image"][0].split(",", 1)[1]) == png()
    assert body["input_image"][1] == "https://x.test/a.png"
    assert set(body) == {"model", "prompt", "input_image"}  # server defaults apply
    assert result.url == RESULT_URL and result.generation_id is None
    assert data == png()
    # The key goes to the API, never to the storage host of a presigned URL.
    assert edit_request.headers["Authorization"] == "Bearer oxen-key"
    download = next(r for r in fake.requests if r.url.host == "cdn.example.com")
    assert "Authorization" not in download.headers


def test_upload_fallback_is_remembered(fake: HostedFake) -> None:
    with Client(HOSTED, "k", transport=httpx.MockTransport(fake)) as client:
        client.images.edit(prompt="a", input_image=png())
        client.images.edit(prompt="b", input_image=png((1, 2, 3)))
    assert [r.url.path for r in fake.requests].count("/api/ai/uploads") == 1


def test_uploads_create_raises_not_found_on_hosted(fake: HostedFake) -> None:
    with (
        Client(HOSTED, "k", transport=httpx.MockTransport(fake)) as client,
        pytest.raises(NotFoundError),
    ):
        client.uploads.create(png())


def test_queue_wait_falls_back_to_polling_and_reports_progress(fake: HostedFake) -> None:
    seen = []
    with Client(HOSTED, "k", transport=httpx.MockTransport(fake)) as client:
        [gen] = client.queue.submit(prompt="hat", input_image="https://x.test/a.png")
        final = client.queue.wait(gen, poll_interval=0.01, on_event=seen.append)
        assert final.succeeded and final.result_url == RESULT_URL
        assert final.params == {"aspect_ratio": "1:1"}
        assert final.seed is None and final.progress is None  # no extensions on hosted
        assert final.read_bytes() == png()
    # each state once, the end too (the poll that sees it says it, as the stream would)
    assert [e.type for e in seen] == ["media_generation_started", "media_generation_completed"]
    assert seen[-1].status == "succeeded" and seen[-1].url == RESULT_URL
    assert client._events_supported is False


async def test_async_client_against_the_hosted_shape(fake: HostedFake) -> None:
    async with AsyncClient(HOSTED, "k", transport=httpx.MockTransport(fake)) as client:
        result = await client.images.edit(prompt="hat", input_image=png())
        assert await result.aread_bytes() == png()
        [gen] = await client.queue.submit(prompt="hat", input_image="https://x.test/a.png")
        final = await client.queue.wait(gen.generation_id, poll_interval=0.01)
        assert final.status == "succeeded"
