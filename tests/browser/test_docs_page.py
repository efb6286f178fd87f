"""/docs in headless Chromium: Swagger UI renders the server's OpenAPI document (3.1, which
Swagger UI 4 could not read: the page said "Unable to render this definition"), under the
page's strict CSP, loading nothing from anywhere else."""

from __future__ import annotations

import pytest
from fixtures.support import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_api_docs_render_every_endpoint_under_the_csp(
    workbench, live_server: LiveServer
) -> None:
    page, watch = workbench()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(live_server.base_url + "/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() >= 10  # the operations, drawn
    assert page.locator("text=Unable to render this definition").count() == 0
    assert page.locator(".opblock-summary-path:has-text('/api/ai/queue')").count() >= 1
    assert not violations, violations
    watch.check()  # no request left the server's origin, no page error
