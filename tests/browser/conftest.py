"""Browser fixtures: Debian's Chromium driven by Playwright against the live server.

Never `playwright install`: the browser is the system's /usr/bin/chromium
(`apt-get install -y chromium`). Tests fail with that advice when it is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.browser import CHROMIUM, CHROMIUM_ARGS, PageWatch, open_context
from fixtures.pictures import landscape, product
from fixtures.support import LiveServer


@pytest.fixture(scope="module")  # Playwright's sync loop must not outlive these tests
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian's chromium is not installed: apt-get install -y chromium "
            "(./dev test does it when run as root), or deselect with -m 'not browser'"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="session")
def browser_key(live_server: LiveServer) -> str:
    """A key of its own, so the workbench's history holds only these tests' runs."""
    result = subprocess.run(
        [sys.executable, "-m", "editserve", "keys", "create", "--name", "browser-tests"],
        env={**os.environ, "EDITSERVE_DATA_DIR": str(live_server.data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    secret = result.stdout.strip().splitlines()[-1] if result.returncode == 0 else ""
    return secret if secret.startswith("es_") else live_server.api_key


@pytest.fixture(scope="session")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("pictures")
    paths = [folder / "sunset.png", folder / "mug.png"]
    paths[0].write_bytes(landscape())
    paths[1].write_bytes(product())
    return paths


@pytest.fixture
def workbench(browser: object, live_server: LiveServer) -> Iterator[object]:
    """open(**context options) → (page, watch); every page is checked at teardown."""
    opened: list[tuple[object, PageWatch]] = []

    def open_page(**options: object) -> tuple[object, PageWatch]:
        context, watch = open_context(browser, live_server, **options)
        page = context.new_page()  # type: ignore[attr-defined]

        def on_console(message: object) -> None:
            text = message.text  # type: ignore[attr-defined]
            # Chromium logs every non-2xx response; the tests provoke some on purpose.
            if message.type == "error" and "Failed to load resource" not in text:  # type: ignore[attr-defined]
                watch.errors.append(text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: watch.errors.append(str(error)))
        opened.append((context, watch))
        return page, watch

    yield open_page
    for context, watch in opened:
        context.close()  # type: ignore[attr-defined]
        watch.check()
