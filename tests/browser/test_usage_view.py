"""The workbench's Usage tab against a real server: after one finished generation of a
key of its own, the figures shown (totals, the day's row, the quotas) are the API's, and
no text of the view is clipped, at a laptop's size and at a phone's."""

from __future__ import annotations

from typing import Any

import pytest
from fixtures.browser import PHONE, shot
from fixtures.support import LiveServer, make_png
from test_workbench import connect
from test_workbench_layout import LAPTOP, assert_all_text_shown

from editserve.client import Client

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def usage_key(live_server: LiveServer) -> tuple[str, dict[str, Any]]:
    """A key with quotas and exactly one finished generation; its usage as the API has it."""
    with Client(live_server.base_url, live_server.api_key, timeout=30) as admin:
        made = admin.admin.keys.create(
            "browser-usage", max_running=7, gpu_seconds_per_day=3600, weight=2
        )
    assert made.key is not None
    with Client(live_server.base_url, made.key, timeout=30) as client:
        client.images.edit(
            prompt="Add a hat", input_image=make_png(), num_inference_steps=2, timeout=120
        )
        report = client.usage.get()
    assert report.total.generations == 1  # what the view must show
    return made.key, report.raw


def figure(value: float) -> float:
    """A figure as the view shows it: 2 decimals, or 2 significant digits below 1."""
    value = float(value)
    return float(f"{value:.2g}") if abs(value) < 1 else round(value, 2)


def shown(page: Any, testid: str) -> str:
    return page.locator(f"[data-testid={testid}] .usage-stat-value").inner_text().strip()


def open_usage(page: Any) -> None:
    page.click("#tab-usage")
    page.wait_for_selector("#view-usage[data-state=ready] .usage-table")


def test_usage_view_shows_the_apis_figures(
    workbench: Any, live_server: LiveServer, usage_key: tuple[str, dict[str, Any]]
) -> None:
    key, report = usage_key
    page, watch = workbench(viewport=LAPTOP)
    connect(page, live_server, key)
    open_usage(page)
    assert "GET /api/ai/usage" in watch.api_calls
    total, quotas = report["total"], report["quotas"]
    assert shown(page, "total-generations") == str(total["generations"]) == "1"
    assert shown(page, "total-succeeded") == str(total["succeeded"])
    assert float(shown(page, "total-gpu-seconds")) == figure(total["gpu_seconds"]) > 0
    assert float(shown(page, "total-megapixels")) == figure(total["output_megapixels"]) > 0
    assert page.locator("[data-testid=total-cost]").count() == 0  # no price table

    [row] = report["rows"]
    cells = page.locator(f".usage-table tbody tr[data-day='{row['day']}'] > *").all_inner_texts()
    assert cells[:3] == [row["day"], str(row["generations"]), str(row["succeeded"])]
    assert [float(c) for c in cells[3:5]] == [
        figure(row["gpu_seconds"]),
        figure(row["output_megapixels"]),
    ]
    assert page.locator(".usage-table tbody tr").count() == 1
    assert page.locator(f".usage-bar[data-day='{row['day']}']").count() == 1

    assert shown(page, "quota-running") == f"{quotas['running']} of {quotas['max_running']}"
    used, per_day = shown(page, "quota-gpu").split(" of ")
    assert float(used) == figure(quotas["gpu_seconds_last_24h"]) > 0
    assert float(per_day) == quotas["gpu_seconds_per_day"] == 3600
    assert shown(page, "quota-weight") == "2"
    assert_all_text_shown(page, "usage")
    shot(page, "usage")


def test_usage_view_fits_a_phone(
    workbench: Any, live_server: LiveServer, usage_key: tuple[str, dict[str, Any]]
) -> None:
    key, report = usage_key
    page, _ = workbench(viewport=PHONE, color_scheme="light", is_mobile=True, has_touch=True)
    connect(page, live_server, key)
    open_usage(page)
    assert shown(page, "total-generations") == str(report["total"]["generations"])
    assert_all_text_shown(page, "usage on a phone")
