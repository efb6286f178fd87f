"""Per-key request rates (api/limits.py): a token bucket per key, charged only for
requests whose key is recognised, with bounded memory."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from editserve.api.app import build_services, create_app
from editserve.api.limits import MAX_BUCKETS, MeteredKeyRing, TokenBuckets, key_ring
from editserve.core.settings import Settings
from editserve.services.keys import KeyRing, create_key

pytestmark = pytest.mark.timeout(60)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the buckets ----------------------------------------------------------------------------


def test_a_key_gets_its_burst_then_its_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=5, clock=clock)
    assert [buckets.take("a") for _ in range(5)] == [0.0] * 5
    wait = buckets.take("a")
    assert wait == pytest.approx(0.5)  # one token comes every 1/rate seconds
    assert buckets.take("b") == 0.0  # another key has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 100  # refilled, but never above the burst
    assert [buckets.take("a") for _ in range(5)] == [0.0] * 5
    assert buckets.take("a") > 0


def test_a_refused_request_takes_nothing() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=1, clock=clock)
    assert buckets.take("a") == 0.0
    for _ in range(10):  # hammering while empty does not push the next token further away
        assert buckets.take("a") == pytest.approx(1.0)
    clock.now += 1.0
    assert buckets.take("a") == 0.0


def test_idle_buckets_are_forgotten_so_memory_stays_bounded() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=10.0, burst=20, clock=clock)  # refilled after 2 s idle
    for i in range(1000):
        buckets.take(f"key-{i}")
        clock.now += 0.01  # 100 keys a second, each seen once
    # only the keys seen within the last refill time (2 s: 200 keys) are still held
    assert len(buckets) <= 201
    clock.now += 10
    buckets.take("late")
    assert len(buckets) == 1


def test_at_most_max_buckets_are_kept() -> None:
    buckets = TokenBuckets(rate=0.001, burst=1, max_buckets=50, clock=Clock())
    for i in range(500):
        buckets.take(f"key-{i}")
    assert len(buckets) == 50
    assert MAX_BUCKETS >= 10_000


def test_a_bucket_needs_a_rate_and_a_burst() -> None:
    with pytest.raises(ValueError):
        TokenBuckets(rate=0, burst=5)


def test_rate_zero_means_no_limit(tmp_path: Path) -> None:
    off = Settings(data_dir=tmp_path, request_rate_per_key=0)
    on = Settings(data_dir=tmp_path, request_rate_per_key=3, request_burst_per_key=7)
    services = build_services(off)
    ring = key_ring(off, services.store)
    assert type(ring) is KeyRing
    metered = key_ring(on, services.store)
    assert isinstance(metered, MeteredKeyRing)
    assert (metered.buckets.rate, metered.buckets.burst) == (3, 7)
    assert isinstance(services.keys, KeyRing) and not isinstance(services.keys, MeteredKeyRing)


# --- through the app -----------------------------------------------------------------------


def app_with(tmp_path: Path, **limits: object) -> tuple[object, str, object]:
    settings = Settings(data_dir=tmp_path, **limits)  # type: ignore[arg-type]
    services = build_services(settings)
    key = create_key(services.store, "t").secret
    return create_app(settings, services), key, services


async def get(app: object, path: str, key: str | None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path, headers=headers)


async def test_a_key_over_its_rate_gets_429_rate_limited_with_retry_after(
    tmp_path: Path,
) -> None:
    app, key, _ = app_with(tmp_path, request_rate_per_key=0.5, request_burst_per_key=3)
    answers = [await get(app, "/api/ai/queue", key) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 200]
    refused = await get(app, "/api/ai/queue", key)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "2"  # the next token in 1/0.5 s
    body = refused.json()
    assert body["status"] == "error"
    assert body["status_message"] == body["error"]["type"] == "rate_limited"
    assert "requests" in body["error"]["detail"]
    # the OpenAI-compatible paths answer in OpenAI's envelope, metered by the same bucket
    openai = await get(app, "/v1/models", key)
    assert openai.status_code == 429
    assert openai.headers["retry-after"]
    assert set(openai.json()["error"]) == {"message", "type", "param", "code"}


async def test_requests_without_a_valid_key_are_not_metered(tmp_path: Path) -> None:
    app, key, services = app_with(tmp_path, request_rate_per_key=0.5, request_burst_per_key=2)
    buckets = services.keys.buckets  # type: ignore[attr-defined]
    for i in range(30):  # a flood of made-up keys: 401 each, and no bucket for any
        response = await get(app, "/api/ai/queue", f"es_made_up_{i}")
        assert response.status_code == 401
    for _ in range(5):  # no key at all, and routes that take none
        assert (await get(app, "/api/ai/queue", None)).status_code == 401
        assert (await get(app, "/healthz", None)).status_code == 200
    assert len(buckets) == 0
    # the real key still has its whole burst
    assert [(await get(app, "/api/ai/queue", key)).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    assert len(buckets) == 1


async def test_the_default_rate_lets_an_ordinary_client_be(tmp_path: Path) -> None:
    app, key, _ = app_with(tmp_path)
    statuses = {(await get(app, "/api/ai/queue", key)).status_code for _ in range(150)}
    assert statuses == {200}
