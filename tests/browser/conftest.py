"""Browser fixtures: Debian's Chromium driven by Playwright against the live server.

Never `playwright install`: the browser is the system's /usr/bin/chromium
(`apt-get install -y chromium`). Tests skip when it is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pictures import landscape, product
from support import LiveServer

CHROMIUM = os.environ.get("EDITSERVE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def _chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which("chromium") is not None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not _chromium_available():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
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


@dataclass
class PageWatch:
    """What a page did that it must not: leave the server's origin, throw, break the CSP."""

    origin: str
    external: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    api_calls: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert not self.external, f"requests outside {self.origin}: {self.external}"
        assert not self.errors, f"page errors: {self.errors}"


def open_context(browser: object, live_server: LiveServer, **options: object) -> tuple[object, PageWatch]:
    """A fresh browser profile whose every request is checked to stay on the server."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(live_server.base_url))
    watch = PageWatch(origin)
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport=options.pop("viewport", DESKTOP),
        color_scheme=options.pop("color_scheme", "dark"),
        accept_downloads=True,
        **options,
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)

    def route(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or f"{parts.scheme}://{parts.netloc}" == origin:
            if parts.path.startswith("/api/"):
                watch.api_calls.append(f"{route.request.method} {parts.path}")  # type: ignore[attr-defined]
            route.continue_()  # type: ignore[attr-defined]
        else:
            watch.external.append(url)
            route.abort()  # type: ignore[attr-defined]

    context.route("**/*", route)
    return context, watch


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


def shot(page: object, name: str, *, full_page: bool = False) -> Path:
    """Save a screenshot of the current view to docs/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.evaluate("() => document.getElementById('toast')?.classList.remove('show')")  # type: ignore[attr-defined]
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="initial")  # type: ignore[attr-defined]
    return path
