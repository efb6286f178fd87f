"""A shared fleet's quotas and usage over HTTP, in-process (a fake worker finishes the
jobs with the worker seconds and megapixels a real one measures): max_running and
gpu_seconds_per_day refuse an enqueue with a 429 naming the quota (Retry-After, nothing
stored); GET /api/ai/usage by day, model and key, with the operator's prices; /metrics."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fixtures.fleet import MODEL, Fleet, fleet_app, house_error
from fixtures.store import make_gen

from editserve.api.app import build_services
from editserve.core.errors import InvalidParams
from editserve.core.settings import Settings

pytestmark = pytest.mark.timeout(60)

OTHER_MODEL = "qwen-image-2512"
DAY = 86400


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    with fleet_app(tmp_path) as made:
        yield made


def day_of(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).date().isoformat()


def queued_ids(fleet: Fleet, headers: dict[str, str]) -> list[str]:
    listed = fleet.http.get("/api/ai/queue", headers=headers)
    assert listed.status_code == 200, listed.text
    return [g["generation_id"] for g in listed.json()["generations"]]


# --- quotas ----------------------------------------------------------------------------------


def test_max_running_refuses_the_third_enqueue_with_429(fleet: Fleet) -> None:
    fleet.http.patch(f"/api/admin/keys/{fleet.user_id}", json={"max_running": 2},
                     headers=fleet.admin)  # fmt: skip
    for _ in range(2):
        assert fleet.enqueue(fleet.user).status_code == 200
    refused = fleet.enqueue(fleet.user)
    detail = house_error(refused, 429, "rate_limited")
    assert detail.startswith("quota max_running:") and "limit 2: this key's quota" in detail
    assert int(refused.headers["retry-after"]) >= 1
    many = fleet.enqueue(fleet.admin, num_generations=3)  # another key: its own limit
    assert many.status_code == 200
    assert fleet.store.count_active(fleet.user_id) == 2  # nothing stored for the third
    assert len(queued_ids(fleet, fleet.user)) == 2
    fleet.finish_next(gpu_seconds=0.1)  # one ends: a place is free again
    assert fleet.enqueue(fleet.user).status_code == 200


def test_a_request_of_several_counts_them_all(fleet: Fleet) -> None:
    fleet.store.update_key(fleet.user_id, {"max_running": 2}, actor="test")
    detail = house_error(fleet.enqueue(fleet.user, num_generations=3), 429, "rate_limited")
    assert "quota max_running" in detail
    assert fleet.store.count_active(fleet.user_id) == 0


def test_the_servers_default_names_its_setting(tmp_path: Path) -> None:
    with fleet_app(tmp_path, max_queued_per_key=1) as fleet:
        assert fleet.enqueue(fleet.user).status_code == 200
        detail = house_error(fleet.enqueue(fleet.user), 429, "rate_limited")
        assert "EDITSERVE_MAX_QUEUED_PER_KEY" in detail and "quota max_running" in detail
        fleet.store.update_key(fleet.user_id, {"max_running": 3}, actor="test")
        assert fleet.enqueue(fleet.user).status_code == 200  # its own quota wins


def test_gpu_seconds_per_day_refuses_once_used_up(fleet: Fleet) -> None:
    patched = fleet.http.patch(f"/api/admin/keys/{fleet.user_id}",
                               json={"gpu_seconds_per_day": 1}, headers=fleet.admin)  # fmt: skip
    assert patched.status_code == 200
    assert fleet.enqueue(fleet.user).status_code == 200  # nothing used yet
    fleet.finish_next(gpu_seconds=1.5, output_megapixels=0.004)
    before = time.time()
    refused = fleet.enqueue(fleet.user)
    detail = house_error(refused, 429, "rate_limited")
    assert detail.startswith("quota gpu_seconds_per_day:") and "1.5 of its 1 GPU" in detail
    retry = int(refused.headers["retry-after"])
    assert 1 <= retry <= DAY + 3600
    # the usage rolls out of the window at the end of its hour, a day later
    assert before + retry >= (int(before // 3600) + 1) * 3600 + DAY - 2
    assert fleet.store.count_active(fleet.user_id) == 0 and queued_ids(fleet, fleet.user) == []
    assert fleet.enqueue(fleet.admin).status_code == 200  # another key is not held back
    # lifted by the admin: the key enqueues again
    fleet.store.update_key(fleet.user_id, {"gpu_seconds_per_day": 100.0}, actor="test")
    assert fleet.enqueue(fleet.user).status_code == 200


def test_usage_older_than_a_day_does_not_count(fleet: Fleet) -> None:
    fleet.store.update_key(fleet.user_id, {"gpu_seconds_per_day": 1.0}, actor="test")
    fleet.enqueue(fleet.user)
    fleet.finish_next(gpu_seconds=5.0)
    shift_usage(fleet, hours=25)
    assert fleet.enqueue(fleet.user).status_code == 200
    quotas = fleet.http.get("/api/ai/usage", headers=fleet.user).json()["quotas"]
    assert quotas["gpu_seconds_last_24h"] == 0 and quotas["gpu_seconds_per_day"] == 1.0


def shift_usage(fleet: Fleet, *, hours: int, model: str | None = None) -> None:
    """Move recorded usage back in time (no API ages it): its hours, `hours` earlier."""
    db = fleet.server.services.settings.data_dir / "editserve.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE usage_hours SET hour = hour - ? WHERE ? IS NULL OR model = ?",
            (hours * 3600, model, model),
        )


# --- GET /api/ai/usage -------------------------------------------------------------------------


def run_usage(fleet: Fleet) -> dict[str, Any]:
    """The user's finished work: three jobs of MODEL today, one of OTHER_MODEL two days
    ago; the admin's one job today. What each should add up to."""
    for _ in range(3):
        assert fleet.enqueue(fleet.user).status_code == 200
    ended = [
        fleet.finish_next(gpu_seconds=1.5, output_megapixels=0.25),
        fleet.finish_next(gpu_seconds=2.25, output_megapixels=0.5),
        fleet.finish_next("failed", gpu_seconds=0.5),
    ]
    fleet.store.insert_generations([make_gen(fleet.user_id, model=OTHER_MODEL)])
    claimed = fleet.server.worker.claim([OTHER_MODEL])
    from editserve.domain.record import Status

    fleet.store.finish(claimed, "test-worker", Status.SUCCEEDED, gpu_seconds=4.0,
                       output_megapixels=1.0)  # fmt: skip
    shift_usage(fleet, hours=48, model=OTHER_MODEL)
    fleet.enqueue(fleet.admin)
    fleet.finish_next(gpu_seconds=10.0, output_megapixels=2.0)
    completed = [fleet.store.get_generation(gen_id).completed_at for gen_id in ended]
    other = fleet.store.get_generation(claimed.id).completed_at
    return {"today": {day_of(t) for t in completed}, "two_days_ago": day_of(other - 2 * DAY)}


def test_usage_by_day_and_by_model_adds_up(fleet: Fleet) -> None:
    days = run_usage(fleet)
    assert len(days["today"]) == 1  # finished within a second of each other
    [today] = days["today"]
    by_day = fleet.http.get("/api/ai/usage", headers=fleet.user)
    assert by_day.status_code == 200, by_day.text
    report = by_day.json()
    assert (report["key"], report["group_by"], report["currency"]) == (fleet.user_id, "day", None)
    rows = {row["day"]: row for row in report["rows"]}
    assert sorted(rows) == sorted([days["two_days_ago"], today])
    assert {k: rows[today][k] for k in ("generations", "succeeded", "gpu_seconds")} == {
        "generations": 3, "succeeded": 2, "gpu_seconds": 4.25
    }  # fmt: skip
    assert rows[today]["output_megapixels"] == pytest.approx(0.75)
    old = rows[days["two_days_ago"]]
    assert (old["generations"], old["succeeded"], old["gpu_seconds"]) == (1, 1, 4.0)
    total = report["total"]
    for name in ("generations", "succeeded", "gpu_seconds", "output_megapixels"):
        assert total[name] == pytest.approx(sum(row[name] for row in report["rows"])), name
    assert (total["generations"], total["gpu_seconds"], total["cost"]) == (4, 8.25, None)
    assert report["quotas"]["gpu_seconds_last_24h"] == 4.25 and report["quotas"]["running"] == 0

    by_model = fleet.http.get("/api/ai/usage", params={"group_by": "model"}, headers=fleet.user)
    models = {row["model"]: row for row in by_model.json()["rows"]}
    assert (models[MODEL]["generations"], models[MODEL]["gpu_seconds"]) == (3, 4.25)
    assert (models[OTHER_MODEL]["generations"], models[OTHER_MODEL]["gpu_seconds"]) == (1, 4.0)
    assert by_model.json()["total"] == total

    since_yesterday = fleet.http.get(
        "/api/ai/usage", params={"from": day_of(time.time() - DAY)}, headers=fleet.user
    ).json()
    assert since_yesterday["total"]["gpu_seconds"] == 4.25  # the old day is outside


def test_an_admin_sees_every_key_and_a_key_only_its_own(fleet: Fleet) -> None:
    run_usage(fleet)
    by_key = fleet.http.get("/api/ai/usage", params={"group_by": "key"}, headers=fleet.admin).json()
    assert by_key["key"] == "all" and by_key["quotas"] is None
    keys = {row["key"]: row["gpu_seconds"] for row in by_key["rows"]}
    assert keys == {fleet.user_id: 8.25, fleet.admin_id: 10.0}
    other = fleet.http.get("/api/ai/usage", params={"key": fleet.user_id}, headers=fleet.admin)
    assert other.json()["total"]["gpu_seconds"] == 8.25
    own = fleet.http.get("/api/ai/usage", headers=fleet.admin).json()
    assert own["total"]["gpu_seconds"] == 10.0  # the admin's own by default
    for params in ({"key": "all"}, {"group_by": "key"}, {"key": fleet.admin_id}):
        refused = fleet.http.get("/api/ai/usage", params=params, headers=fleet.user)
        assert "'admin' scope" in house_error(refused, 403, "forbidden"), params
    unknown = fleet.http.get("/api/ai/usage", params={"key": "key_nobody"}, headers=fleet.admin)
    assert house_error(unknown, 400, "invalid_params").startswith("key:")


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"from": "yesterday"}, "from:"),
        ({"to": "2026-13-40"}, "to:"),
        ({"group_by": "week"}, "group_by:"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "from:"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "from:"),
        ({"colour": "red"}, "colour:"),
    ],
)
def test_a_bad_usage_query_is_a_400_naming_the_parameter(
    fleet: Fleet, params: dict[str, str], named: str
) -> None:
    response = fleet.http.get("/api/ai/usage", params=params, headers=fleet.user)
    assert house_error(response, 400, "invalid_params").startswith(named)


def test_prices_give_costs_and_the_models_pricing(tmp_path: Path) -> None:
    table = {MODEL: {"per_image": 0.02, "per_gpu_second": 0.001}, "*": {"per_gpu_second": 0.5}}
    with fleet_app(tmp_path, prices=json.dumps(table), price_currency="EUR") as fleet:
        run_usage(fleet)
        report = fleet.http.get("/api/ai/usage", params={"group_by": "model"},
                                headers=fleet.user).json()  # fmt: skip
        assert report["currency"] == "EUR"
        models = {row["model"]: row for row in report["rows"]}
        assert models[MODEL]["cost"] == pytest.approx(0.02 * 2 + 0.001 * 4.25)
        assert models[OTHER_MODEL]["cost"] == pytest.approx(0.5 * 4.0)  # the "*" price
        assert report["total"]["cost"] == pytest.approx(0.02 * 2 + 0.001 * 4.25 + 2.0)
        cards = fleet.http.get("/api/ai/models", headers=fleet.user).json()
        card = next(m for m in cards["data"] if m["id"] == MODEL)
        assert card["pricing"]["cost_per_image"] == 0.02
        assert card["pricing"]["cost_per_gpu_second"] == 0.001
        assert card["pricing"]["currency"] == "EUR"
    with fleet_app(tmp_path / "unpriced") as fleet:  # no table: the card's own null cost
        cards = fleet.http.get("/api/ai/models", headers=fleet.user).json()
        card = next(m for m in cards["data"] if m["id"] == MODEL)
        assert card["pricing"]["cost_per_image"] is None


def test_prices_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"*": {"per_image": 1}}))
    with fleet_app(tmp_path / "data", prices=str(path)) as fleet:
        fleet.enqueue(fleet.user)
        fleet.finish_next(gpu_seconds=3.0)
        report = fleet.http.get("/api/ai/usage", headers=fleet.user).json()
        assert report["total"]["cost"] == 1.0 and report["currency"] == "USD"


@pytest.mark.parametrize(
    ("prices", "named"),
    [
        ("{not json", "EDITSERVE_PRICES: not JSON"),
        ("file:[1, 2]", "EDITSERVE_PRICES: must be a JSON object"),
        ('{"m": {"per_image": -1}}', "EDITSERVE_PRICES['m'].per_image"),
        ('{"m": {"per_pixel": 1}}', "EDITSERVE_PRICES['m']: unknown field 'per_pixel'"),
        ('{"m": {}}', "EDITSERVE_PRICES['m']"),
        ("/nonexistent/prices.json", "EDITSERVE_PRICES: cannot read"),
    ],
)
def test_a_bad_price_table_stops_the_services_naming_the_setting(
    tmp_path: Path, prices: str, named: str
) -> None:
    if prices.startswith("file:"):  # a file holding it (text not starting with '{' is one)
        (tmp_path / "prices.json").write_text(prices.removeprefix("file:"))
        prices = str(tmp_path / "prices.json")
    with pytest.raises(InvalidParams) as refused:
        build_services(Settings(data_dir=tmp_path, prices=prices))
    assert named in str(refused.value)


def test_metrics_count_usage_per_key_and_model(fleet: Fleet) -> None:
    run_usage(fleet)
    text = fleet.http.get("/metrics", headers=fleet.user).text
    line = f'editserve_usage_gpu_seconds_total{{key="{fleet.user_id}",model="{MODEL}"}} 4.25'
    assert line in text
    assert (
        f'editserve_usage_generations_total{{key="{fleet.admin_id}",model="{MODEL}"}} 1.0' in text
    )
    public = fleet.http.get("/metrics").text  # no key: no key ids, summed per model
    assert f'editserve_usage_gpu_seconds_total{{model="{MODEL}"}} 14.25' in public
    assert fleet.user_id not in public
