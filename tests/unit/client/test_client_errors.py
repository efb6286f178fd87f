"""The client's plumbing, without a server: error mapping, retries, configuration, SSE.

These use httpx.MockTransport; everything that can run against the real app does so in
test_client_inprocess.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

import editserve
from editserve.client import (
    APIError,
    AuthenticationError,
    Client,
    ConnectionError,
    GenerationCancelled,
    GenerationFailed,
    GenerationTimeout,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from editserve.client import _base as base
from editserve.client._sse import SSEDecoder


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "backoff_delay", lambda attempt, **_: 0.0)
    for module in ("editserve.client._client", "editserve.client._async_client"):
        monkeypatch.setattr(f"{module}.backoff_delay", lambda attempt, **_: 0.0)


def envelope(type_: str, detail: str, title: str = "T", **extra: object) -> dict[str, object]:
    return {
        "error": {"type": type_, "title": title, "detail": detail},
        "status": "error",
        "status_message": type_,
        **extra,
    }


def client_for(handler: Callable[[httpx.Request], httpx.Response], **kwargs: object) -> Client:
    return Client("http://server", "es_test", transport=httpx.MockTransport(handler), **kwargs)  # type: ignore[arg-type]


# --- error mapping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls", "type_"),
    [
        (
            400,
            envelope("invalid_params", "prompt: required"),
            {},
            InvalidRequestError,
            "invalid_params",
        ),
        (401, envelope("unauthenticated", "bad key"), {}, AuthenticationError, "unauthenticated"),
        (404, envelope("resource_not_found", "nope"), {}, NotFoundError, "resource_not_found"),
        (413, envelope("payload_too_large", "big"), {}, InvalidRequestError, "payload_too_large"),
        (
            429,
            envelope("rate_limited", "slow down"),
            {"Retry-After": "7"},
            RateLimitError,
            "rate_limited",
        ),
        (500, envelope("unknown_error", "oops"), {}, ServerError, "unknown_error"),
        (503, envelope("unavailable", "no worker"), {}, ServerError, "unavailable"),
    ],
)
def test_error_envelope_maps_to_typed_exception(
    status: int, body: dict, headers: dict, cls: type[APIError], type_: str
) -> None:
    client = client_for(lambda request: httpx.Response(status, json=body, headers=headers))
    with pytest.raises(cls) as info:
        client.models.list()
    error = info.value
    assert error.status == status
    assert error.type == type_
    assert error.title == "T"
    assert error.detail == body["error"]["detail"]
    assert error.body == body
    assert str(status) in str(error) and error.detail in str(error)
    if cls is RateLimitError:
        assert error.retry_after == 7.0


def test_sync_edit_timeout_504_is_generation_timeout_with_id() -> None:
    body = envelope("timeout", "still running", generation_id="g-1", generation_status="processing")
    client = client_for(lambda request: httpx.Response(504, json=body))
    with pytest.raises(GenerationTimeout) as info:
        client.queue.get("g-1")
    assert info.value.generation_id == "g-1"
    assert info.value.generation_status == "processing"
    assert isinstance(info.value, TimeoutError)


def test_failed_and_cancelled_sync_edits_are_generation_errors() -> None:
    failed = envelope("generation_failed", "CUDA OOM", generation_id="g-2")
    cancelled = envelope(
        "generation_cancelled",
        "generation g-3 was cancelled",
        "Generation cancelled",
        generation_id="g-3",
    )
    client = client_for(lambda request: httpx.Response(500, json=failed))
    with pytest.raises(GenerationFailed) as info:
        client.queue.get("g-2")
    assert info.value.generation_id == "g-2" and info.value.detail == "CUDA OOM"
    client = client_for(lambda request: httpx.Response(409, json=cancelled))
    with pytest.raises(GenerationCancelled):
        client.queue.get("g-3")


def test_non_envelope_errors_still_carry_a_detail() -> None:
    client = client_for(lambda request: httpx.Response(502, text="<html>Bad gateway</html>"))
    with pytest.raises(ServerError) as info:
        client.models.list()
    assert info.value.status == 502 and "Bad gateway" in info.value.detail
    client = client_for(lambda request: httpx.Response(404, json={"detail": "Not Found"}))
    with pytest.raises(NotFoundError, match="Not Found"):
        client.models.list()


# --- retries ----------------------------------------------------------------------------------


def test_connection_errors_are_retried_then_succeed() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"object": "list", "data": []})

    assert client_for(handler, max_retries=2).models.list() == []
    assert len(calls) == 3


def test_connection_errors_give_up_after_max_retries() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ConnectionError) as info:
        client_for(handler, max_retries=1).models.list()
    assert calls == 2
    assert "http://server/api/ai/models" in str(info.value)
    assert isinstance(info.value, OSError)  # also a builtins.ConnectionError


def test_retried_posts_reuse_one_idempotency_key() -> None:
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        if len(keys) == 1:
            raise httpx.ReadError("connection dropped", request=request)
        return httpx.Response(
            200, json={"generations": [{"generation_id": "g", "status": "queued"}]}
        )

    [gen] = client_for(handler).queue.submit(prompt="p", input_image="https://x/y.png")
    assert gen.generation_id == "g" and gen.status == "queued"
    assert len(keys) == 2 and keys[0] == keys[1]


def test_http_errors_are_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(500, json=envelope("unknown_error", "x"))

    with pytest.raises(ServerError):
        client_for(handler).models.list()
    assert calls == 1


# --- configuration ----------------------------------------------------------------------------


def test_base_url_and_key_from_arguments_env_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EDITSERVE_URL", "EDITSERVE_API_KEY", "OXEN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    client = Client()
    assert client.base_url == "http://127.0.0.1:8000" and client.api_key is None
    monkeypatch.setenv("OXEN_API_KEY", "oxen-key")
    assert Client().api_key == "oxen-key"
    monkeypatch.setenv("EDITSERVE_API_KEY", "es-key")
    monkeypatch.setenv("EDITSERVE_URL", "http://gpu-box:9000/")
    client = Client()
    assert (client.base_url, client.api_key) == ("http://gpu-box:9000", "es-key")
    assert Client("https://hub.oxen.ai/api/ai", "k").base_url == "https://hub.oxen.ai"
    assert Client("localhost:8000").base_url == "http://localhost:8000"


def test_key_is_sent_as_bearer_and_user_agent_names_the_client() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"object": "list", "data": []})

    with client_for(handler) as client:
        client.models.list()
    assert seen[0].headers["Authorization"] == "Bearer es_test"
    assert seen[0].headers["User-Agent"].startswith("editserve-client/")


def test_top_level_lazy_export_does_not_import_the_server() -> None:
    import subprocess
    import sys

    code = (
        "import sys, editserve; editserve.Client; editserve.AsyncClient; "
        "print(sorted(m for m in ('torch', 'fastapi', 'editserve.api', 'diffusers') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert editserve.Client is Client


# --- SSE --------------------------------------------------------------------------------------


def test_sse_decoder_follows_the_event_stream_rules() -> None:
    decoder = SSEDecoder()
    lines = [
        ": keep-alive",
        "",
        "id: 7",
        "event: media_generation_progress",
        'data: {"generation_id":"g","step":3,"total":8,"stage":"denoising"}',
        "",
        "retry: 1500",
        "data: line one",
        "data: line two",
        "",
    ]
    events = [e for e in (decoder.feed(line) for line in lines) if e is not None]
    assert len(events) == 2
    progress, message = events
    assert progress.type == "media_generation_progress" and progress.id == "7"
    assert (progress.generation_id, progress.step, progress.total, progress.stage) == (
        "g",
        3,
        8,
        "denoising",
    )
    assert message.type == "message" and message.data == "line one\nline two"
    assert message.id == "7"  # the last id carries over
    assert decoder.retry == 1500


def sse(*frames: tuple[int, str, dict]) -> bytes:
    text = ""
    for event_id, name, data in frames:
        text += (
            f"id: {event_id}\nevent: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
        )
    return text.encode()


def test_events_reconnect_with_last_event_id() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if len(requests) == 1:  # the stream drops after two events
            body = sse(
                (1, "media_generation_started", {"generation_id": "a"}),
                (2, "media_generation_progress", {"generation_id": "a", "step": 1, "total": 2}),
            )
        else:
            body = sse(
                (3, "media_generation_completed", {"generation_id": "a", "status": "succeeded"})
            )
        return httpx.Response(200, content=body, headers={"Content-Type": "text/event-stream"})

    events = []
    for event in client_for(handler).events():
        events.append(event)
        if len(events) == 3:
            break
    assert [e.id for e in events] == ["1", "2", "3"]
    assert "Last-Event-ID" not in requests[0].headers
    assert requests[1].headers["Last-Event-ID"] == "2"
    assert events[-1].is_terminal


def test_events_start_from_a_given_id_and_survive_connection_errors() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if len(requests) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(
            200, content=sse((11, "media_generation_started", {"generation_id": "b"}))
        )

    event = next(iter(client_for(handler).events(last_event_id=10)))
    assert event.id == "11"
    assert [r.headers.get("Last-Event-ID") for r in requests] == ["10", "10"]


def test_events_endpoint_errors_raise() -> None:
    client = client_for(lambda r: httpx.Response(401, json=envelope("unauthenticated", "bad key")))
    with pytest.raises(AuthenticationError):
        next(iter(client.events()))
