"""Webhooks end to end in-process: a request names a webhook, the fake worker runs it, the
dispatcher delivers signed events to a real receiver on loopback; failures are retried with
the same webhook-id, a delivery pending when its sender died is sent by the next one, and
bad URLs are a 400 at enqueue."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.inprocess_app import BASE, App, SyncASGITransport, png

from editserve.client import verify_webhook
from editserve.services.webhooks import dispatcher as dispatcher_module
from editserve.services.webhooks.dispatcher import WebhookDispatcher


class Receiver:
    """An HTTP server that records deliveries and answers with the queued status codes."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers.items()), body))
                self.send_response(receiver.answers.pop(0) if receiver.answers else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture
def server(tmp_path: Path) -> App:
    return App(tmp_path, fetch_allow_hosts=["127.0.0.1"])


@pytest.fixture
def http(server: App) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=SyncASGITransport(server.app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {server.key}"},
    ) as client:
        yield client


def body(**extra: Any) -> dict[str, Any]:
    data_uri = "data:image/png;base64," + __import__("base64").b64encode(png()).decode()
    return {"model": "qwen-image-edit-plus", "prompt": "p", "input_image": data_uri, **extra}


def dispatcher(server: App) -> WebhookDispatcher:
    return server.services.webhooks  # type: ignore[no-any-return]


def deliver_all(server: App, rounds: int = 5) -> None:
    for _ in range(rounds):
        __import__("asyncio").run(dispatcher(server).run_once())


def secret_of(server: App) -> str:
    owner = server.services.store.list_keys()[0].id
    return server.services.store.webhook_secret(owner, "whsec_unused")  # type: ignore[no-any-return]


def test_signed_start_and_completed_deliveries(
    server: App, http: httpx.Client, receiver: Receiver
) -> None:
    queued = http.post(
        "/api/ai/queue",
        json=body(webhook=receiver.url, webhook_events_filter=["start", "completed"]),
    )
    assert queued.status_code == 200, queued.text
    generation_id = queued.json()["generations"][0]["generation_id"]
    server.run_worker(steps=2).join(10)
    deliver_all(server)

    assert [json.loads(b)["type"] for _, b in receiver.received] == [
        "generation.started",
        "generation.completed",
    ]
    headers, raw = receiver.received[1]
    event = verify_webhook(secret_of(server), headers, raw)
    assert event["data"]["generation_id"] == generation_id
    assert event["data"]["status"] == "succeeded" and event["data"]["result_url"]
    # no request to take a base URL from: the node's public URL, else its own address
    assert event["data"]["result_url"].startswith("http://127.0.0.1:8000/files/outputs/")
    view = http.get(f"/api/ai/queue/{generation_id}").json()
    assert [w["status"] for w in view["webhooks"]] == ["delivered", "delivered"]
    assert {w["id"] for w in view["webhooks"]} == {h["webhook-id"] for h, _ in receiver.received}


def test_a_failed_delivery_is_retried_with_the_same_webhook_id(
    server: App, http: httpx.Client, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatcher_module, "retry_delay", lambda attempts: -1.0)
    receiver.answers = [500, 503]
    queued = http.post("/api/ai/queue", json=body(webhook=receiver.url))
    generation_id = queued.json()["generations"][0]["generation_id"]
    server.run_worker(steps=1).join(10)
    deliver_all(server)
    ids = [headers["webhook-id"] for headers, _ in receiver.received]
    assert len(ids) == 3 and len(set(ids)) == 1
    [delivery] = http.get(f"/api/ai/queue/{generation_id}").json()["webhooks"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3


def test_a_delivery_pending_when_its_sender_died_is_sent_after_restart(
    server: App, http: httpx.Client, receiver: Receiver, tmp_path: Path
) -> None:
    http.post("/api/ai/queue", json=body(webhook=receiver.url))
    server.run_worker(steps=1).join(10)
    [taken] = server.services.store.claim_deliveries(10, 0.3)  # a sender takes it, then dies
    assert receiver.received == []
    __import__("time").sleep(1.3)
    restarted = App(tmp_path, fetch_allow_hosts=["127.0.0.1"])  # same data dir: a new process
    __import__("asyncio").run(restarted.services.webhooks.run_once())
    [(headers, _)] = receiver.received
    assert headers["webhook-id"] == taken.id


def test_the_keys_default_webhook_is_used_when_a_request_names_none(
    server: App, http: httpx.Client, receiver: Receiver
) -> None:
    owner = server.services.store.list_keys()[0].id
    server.services.store.set_key_webhook(owner, receiver.url)
    http.post("/api/ai/queue", json=body())
    server.run_worker(steps=1).join(10)
    deliver_all(server)
    assert [json.loads(b)["type"] for _, b in receiver.received] == ["generation.completed"]


@pytest.mark.parametrize(
    ("extra", "rule"),
    [
        ({"webhook": "ftp://example.com/x"}, "http:// or https://"),
        ({"webhook": "http://user:pw@example.com/x"}, "credentials"),
        ({"webhook": "http://10.0.0.7/x"}, "private"),
        ({"webhook": "not a url"}, "http:// or https://"),
        ({"webhook": "https://example.com", "webhook_events_filter": ["done"]}, "start"),
        ({"webhook": "https://example.com", "webhook_events_filter": []}, "at least 1"),
    ],
)
def test_bad_webhooks_are_a_400_naming_the_field(
    server: App, http: httpx.Client, extra: dict[str, Any], rule: str
) -> None:
    response = http.post("/api/ai/queue", json=body(**extra))
    assert response.status_code == 400, response.text
    detail = response.json()["error"]["detail"]
    assert detail.startswith("webhook") and rule in detail, detail
    owner = server.services.store.list_keys()[0].id
    assert server.services.store.list_generations(owner)[1] == 0


def test_a_generations_deliveries_go_in_order_even_when_the_first_is_slow(
    server: App, http: httpx.Client, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver = dispatcher_module.WebhookDispatcher._deliver

    async def slow_start(self: Any, client: httpx.AsyncClient, row: Any) -> None:
        if row.event_type == "generation.started":
            await asyncio.sleep(0.3)  # side by side, the completed one would overtake it
        await deliver(self, client, row)

    monkeypatch.setattr(dispatcher_module.WebhookDispatcher, "_deliver", slow_start)
    http.post(
        "/api/ai/queue",
        json=body(webhook=receiver.url, webhook_events_filter=["start", "completed"]),
    )
    server.run_worker(steps=1).join(10)
    deliver_all(server, rounds=1)
    assert [json.loads(b)["type"] for _, b in receiver.received] == [
        "generation.started",
        "generation.completed",
    ]


def test_a_batch_delivers_one_signed_batch_completed_to_its_webhook(
    server: App, http: httpx.Client, receiver: Receiver
) -> None:
    """A batch's webhook gets batch.completed once its last item ended (not one per item),
    signed like every delivery, with the batch's record and counts."""
    image = body()["input_image"]
    submitted = http.post(
        "/api/ai/batches",
        json={
            "template": {"model": "qwen-image-edit-plus", "prompt": "p"},
            "images": [image, image],
            "webhook": receiver.url,
        },  # fmt: skip
    )
    assert submitted.status_code == 201, submitted.text
    batch_id = submitted.json()["id"]
    server.run_worker(steps=1).join(10)
    deliver_all(server)
    assert receiver.received == []  # one of two ended: nothing yet
    server.run_worker(steps=1).join(10)
    deliver_all(server)
    [(headers, raw)] = receiver.received
    event = verify_webhook(secret_of(server), headers, raw)
    assert event["type"] == "batch.completed"
    assert event["data"]["id"] == batch_id and event["data"]["status"] == "completed"
    assert event["data"]["counts"]["succeeded"] == 2
