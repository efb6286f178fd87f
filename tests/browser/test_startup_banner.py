"""The workbench's start-up banner in headless Chromium: while the model card says a worker
is downloading (bytes of total) it shows that line and a progress bar, it follows the
card to the next stage, shows a failure's reason, and goes away once the model is ready.

The server is the real one; only the model card's answer is rewritten (a worker of this
tiny server is ready in seconds), so each stage can be shown for as long as the test needs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fixtures.browser import shot
from fixtures.support import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOWNLOADING = {
    "readiness": "loading",
    "stage": "downloading",
    "stage_detail": {"bytes_done": 21_300_000_000, "bytes_total": 57_700_000_000},
    "stage_text": "downloading 21.3 GB of 57.7 GB (37%, 6 of 17 files, 312.0 MB/s)",
}
LOADING = {
    "readiness": "loading",
    "stage": "loading",
    "stage_detail": {"component": "text_encoder", "index": 5, "count": 6},
    "stage_text": "loading component 5 of 6 (text_encoder)",
}
FAILED = {
    "readiness": "failed",
    "stage": "failed",
    "stage_detail": {"reason": "could not download the weights: the disk is full"},
    "stage_text": "failed: could not download the weights: the disk is full",
    "readiness_reason": "could not download the weights: the disk is full",
}


def test_the_banner_follows_the_start_up(
    workbench: Any, live_server: LiveServer, browser_key: str
) -> None:
    page, _watch = workbench()
    shown: dict[str, Any] = {"card": DOWNLOADING}

    def rewrite(route: Any) -> None:
        response = route.fetch()
        card = {**response.json(), **shown["card"]}
        route.fulfill(response=response, body=json.dumps(card))

    page.route("**/api/ai/models/*", rewrite)
    page.goto(live_server.base_url + "/")
    page.wait_for_selector("#key-dialog[open]")
    page.fill("#key-input", browser_key)
    page.click("#key-save")

    banner = page.locator("#startup-banner")
    banner.wait_for(state="visible")
    assert banner.get_attribute("data-stage") == "downloading"
    assert "Downloading the weights: downloading 21.3 GB of 57.7 GB (37%" in banner.inner_text()
    assert page.locator("#startup-banner progress").get_attribute("value") == "37"
    assert page.locator(".readiness").inner_text() == "Loading weights…"
    shot(page, "startup-downloading")

    shown["card"] = LOADING  # the page refreshes the card while the model loads
    page.wait_for_selector("#startup-banner[data-stage=loading]", timeout=20_000)
    assert "loading component 5 of 6 (text_encoder)" in banner.inner_text()
    assert page.locator("#startup-banner progress").get_attribute("value") == "83"

    shown["card"] = FAILED
    page.wait_for_selector("#startup-banner.banner-danger", timeout=20_000)
    assert "the disk is full" in banner.inner_text()
    assert page.locator("#startup-banner progress").count() == 0

    shown["card"] = {}  # the real card: this server's worker is ready
    page.wait_for_selector("#startup-banner", state="hidden", timeout=20_000)
