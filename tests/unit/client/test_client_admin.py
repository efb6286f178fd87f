"""``client.usage`` and ``client.admin`` (keys, audit) against a mock server: the requests
they send, what they make of the answers, and the 403 of a key without the scope."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from editserve.client import (
    ApiKey,
    AsyncClient,
    AuthenticationError,
    Client,
    InvalidRequestError,
    PermissionDenied,
    RateLimitError,
)

USAGE = {
    "from": "2026-11-06T00:00:00Z",
    "to": "2026-12-06T20:00:00Z",
    "group_by": "day",
    "key": "key_ab12cd34ef56",
    "currency": None,
    "rows": [
        {
            "day": "2026-12-05",
            "generations": 2,
            "succeeded": 1,
            "gpu_seconds": 4.5,
            "output_megapixels": 2.1,
            "cost": None,
        },
        {
            "day": "2026-12-06",
            "generations": 10,
            "succeeded": 10,
            "gpu_seconds": 30.0,
            "output_megapixels": 10.48,
            "cost": None,
        },
    ],
    "total": {
        "generations": 12,
        "succeeded": 11,
        "gpu_seconds": 34.5,
        "output_megapixels": 12.58,
        "cost": None,
    },
    "quotas": {
        "max_running": 100,
        "running": 3,
        "gpu_seconds_per_day": None,
        "gpu_seconds_last_24h": 34.5,
        "weight": 1.0,
    },
}
KEY = {
    "id": "key_ab12cd34ef56",
    "name": "alice",
    "prefix": "es_ab12",
    "created_at": 1_700_000_000,
    "revoked_at": None,
    "scopes": ["submit", "read"],
    "weight": 2.0,
    "max_running": 4,
    "gpu_seconds_per_day": None,
    "webhook_url": None,
}


def forbidden(scope: str) -> httpx.Response:
    detail = f"this key lacks the {scope} scope"
    body = {"error": {"type": "forbidden", "title": "Forbidden", "detail": detail}}
    return httpx.Response(403, json={**body, "status": "error", "status_message": "forbidden"})


class Server:
    """A mock server: answers by (method, path) and records every request."""

    def __init__(self, answers: dict[tuple[str, str], httpx.Response]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.get((request.method, request.url.path))
        return answer if answer is not None else httpx.Response(404, json={"detail": "nope"})

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def client_for(server: Callable[[httpx.Request], httpx.Response]) -> Client:
    return Client("http://server", "es_test", transport=httpx.MockTransport(server))


# --- usage ----------------------------------------------------------------------------------


def test_usage_reads_rows_total_and_quotas() -> None:
    server = Server({("GET", "/api/ai/usage"): httpx.Response(200, json=USAGE)})
    report = client_for(server).usage.get()
    assert dict(server.last.url.params) == {"group_by": "day"}
    assert server.last.headers["authorization"] == "Bearer es_test"
    assert [row.group for row in report] == ["2026-12-05", "2026-12-06"]
    assert [row.generations for row in report.rows] == [2, 10]
    assert report.rows[0].gpu_seconds == 4.5 and report.rows[1].output_megapixels == 10.48
    assert report.total.generations == 12 and report.total.succeeded == 11
    assert report.total.gpu_seconds == 34.5 and report.total.cost is None
    assert report.total.group is None
    assert report.from_ == USAGE["from"] and report.key == "key_ab12cd34ef56"
    assert report.currency is None and report.raw == USAGE
    quotas = report.quotas
    assert quotas is not None
    assert (quotas.running, quotas.max_running) == (3, 100)
    assert (quotas.gpu_seconds_last_24h, quotas.gpu_seconds_per_day) == (34.5, None)
    assert quotas.weight == 1.0


def test_usage_sends_times_grouping_and_key() -> None:
    by_model = {
        **USAGE,
        "group_by": "model",
        "currency": "USD",
        "rows": [{"model": "m1", "generations": 1, "gpu_seconds": 2.0, "cost": 0.25}],
    }
    server = Server({("GET", "/api/ai/usage"): httpx.Response(200, json=by_model)})
    client = client_for(server)
    moment = dt.datetime(2026, 12, 1, 12, 30, tzinfo=dt.UTC)
    report = client.usage.get(dt.date(2026, 11, 1), moment, group_by="model", key="all")
    assert dict(server.last.url.params) == {
        "from": "2026-11-01",
        "to": str(int(moment.timestamp())),
        "group_by": "model",
        "key": "all",
    }
    assert report.rows[0].group == "m1" and report.rows[0].cost == 0.25
    assert report.currency == "USD"
    client.usage.get("2026-11-06T00:00:00Z", 1_790_000_000, key=ApiKey.from_json(KEY))
    assert dict(server.last.url.params) == {
        "from": "2026-11-06T00:00:00Z",
        "to": "1790000000",
        "group_by": "day",
        "key": "key_ab12cd34ef56",
    }


def test_usage_refuses_a_bad_group_by_before_asking() -> None:
    server = Server({})
    with pytest.raises(ValueError, match="group_by: must be one of day, model, key"):
        client_for(server).usage.get(group_by="week")
    with pytest.raises(ValueError, match="from_: must not be empty"):
        client_for(server).usage.get(" ")
    assert server.requests == []


def test_a_key_without_the_scope_raises_permission_denied() -> None:
    server = Server(
        {
            ("GET", "/api/ai/usage"): forbidden("admin"),
            ("GET", "/api/admin/keys"): forbidden("admin"),
        }
    )
    client = client_for(server)
    with pytest.raises(PermissionDenied) as caught:
        client.admin.keys.list()
    assert caught.value.status == 403 and "admin scope" in caught.value.detail
    assert isinstance(caught.value, AuthenticationError)  # what a 403 raised before
    with pytest.raises(PermissionDenied, match="admin scope"):
        client.usage.get(key="all")


# --- admin keys -------------------------------------------------------------------------------


def test_create_sends_only_what_is_given_and_returns_the_secret() -> None:
    created = {**KEY, "key": "es_secret", "webhook_secret": "whsec_x"}
    server = Server({("POST", "/api/admin/keys"): httpx.Response(201, json=created)})
    key = client_for(server).admin.keys.create("alice", scopes="submit, read", max_running=4)
    assert server.body() == {"name": "alice", "scopes": ["submit", "read"], "max_running": 4}
    assert key.key == "es_secret" and key.webhook_secret == "whsec_x"
    assert key.id == "key_ab12cd34ef56" and key.scopes == ["submit", "read"]
    assert key.weight == 2.0 and key.gpu_seconds_per_day is None and not key.revoked
    assert "es_secret" not in repr(key) and "whsec_x" not in repr(key)


def test_create_refuses_an_unknown_scope() -> None:
    server = Server({})
    with pytest.raises(ValueError, match="scopes: unknown scope 'write'"):
        client_for(server).admin.keys.create("bob", scopes=["submit", "write"])
    assert server.requests == []


def test_list_get_and_update() -> None:
    revoked = {**KEY, "id": "key_old", "revoked_at": 1_700_000_500}
    changed = {**KEY, "max_running": None, "scopes": ["read"]}
    server = Server(
        {
            ("GET", "/api/admin/keys"): httpx.Response(200, json={"keys": [KEY, revoked]}),
            ("GET", "/api/admin/keys/key_old"): httpx.Response(200, json=revoked),
            ("PATCH", "/api/admin/keys/key_ab12cd34ef56"): httpx.Response(200, json=changed),
        }
    )
    admin = client_for(server).admin
    keys = admin.keys.list()
    assert [k.id for k in keys] == ["key_ab12cd34ef56", "key_old"]
    assert [k.revoked for k in keys] == [False, True]
    assert admin.keys.get("key_old").revoked_at == 1_700_000_500
    key = admin.keys.update(keys[0], max_running=None, scopes=("read",))
    assert server.last.method == "PATCH"
    assert server.body() == {"max_running": None, "scopes": ["read"]}  # null clears the quota
    assert key.max_running is None and key.scopes == ["read"]


def test_update_refuses_unknown_or_no_fields() -> None:
    server = Server({})
    admin = client_for(server).admin
    with pytest.raises(TypeError, match="admin.keys.update: unknown field 'quota'"):
        admin.keys.update("key_x", quota=3)
    with pytest.raises(TypeError, match="at least one field"):
        admin.keys.update("key_x")
    with pytest.raises(ValueError, match="key id"):
        admin.keys.update("../keys", name="x")
    assert server.requests == []


def test_revoke_and_the_last_admin_key() -> None:
    last_admin = {"error": {"type": "conflict", "detail": "key_a is the last admin key"}}
    server = Server(
        {
            ("DELETE", "/api/admin/keys/key_b"): httpx.Response(
                200, json={"id": "key_b", "revoked": True}
            ),
            ("DELETE", "/api/admin/keys/key_a"): httpx.Response(409, json=last_admin),
        }
    )
    admin = client_for(server).admin
    assert admin.keys.revoke("key_b") is True
    with pytest.raises(InvalidRequestError, match="last admin key"):
        admin.keys.revoke("key_a")


def test_audit_pages() -> None:
    entry = {
        "seq": 7,
        "at": 1_700_000_100.5,
        "actor": "key_admin",
        "action": "update",
        "key_id": "key_b",
        "detail": {"max_running": 4},
    }
    page = {"entries": [entry], "next_before": 7}
    server = Server({("GET", "/api/admin/audit"): httpx.Response(200, json=page)})
    admin = client_for(server).admin
    result = admin.audit(key_id="key_b", limit=1, before=9)
    assert dict(server.last.url.params) == {"key_id": "key_b", "limit": "1", "before": "9"}
    [got] = result
    assert (got.seq, got.action, got.actor, got.key_id) == (7, "update", "key_admin", "key_b")
    assert got.detail == {"max_running": 4} and got.at == 1_700_000_100.5
    assert result.next_before == 7
    admin.audit()
    assert dict(server.last.url.params) == {}
    with pytest.raises(ValueError, match="limit: must be at least 1"):
        admin.audit(limit=0)


def test_quota_refusals_are_rate_limit_errors() -> None:
    body = {"error": {"type": "rate_limited", "detail": "gpu_seconds_per_day: 100 used"}}
    server = Server(
        {("POST", "/api/ai/queue"): httpx.Response(429, json=body, headers={"Retry-After": "30"})}
    )
    with pytest.raises(RateLimitError, match="gpu_seconds_per_day") as caught:
        client_for(server).queue.submit(prompt="x", input_image="https://example.com/a.png")
    assert caught.value.retry_after == 30


def test_the_async_client_has_the_same_namespaces() -> None:
    server = Server(
        {
            ("GET", "/api/ai/usage"): httpx.Response(200, json=USAGE),
            ("GET", "/api/admin/keys"): forbidden("admin"),
        }
    )

    async def main() -> tuple[int, str]:
        async with AsyncClient(
            "http://server", "es_test", transport=httpx.MockTransport(server)
        ) as c:
            report = await c.usage.get(group_by="day")
            try:
                await c.admin.keys.list()
            except PermissionDenied as exc:
                return report.total.generations, exc.detail
        raise AssertionError("no PermissionDenied")

    generations, detail = asyncio.run(main())
    assert generations == 12 and "admin scope" in detail
