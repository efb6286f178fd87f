"""Helpers of the browser tests: Chromium settings, the request watch, screenshots."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

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


def open_context(
    browser: object, live_server: LiveServer, **options: object
) -> tuple[object, PageWatch]:
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


def shot(page: object, name: str, *, full_page: bool = False) -> Path | None:
    """Save a screenshot of the current view to docs/screenshots/<name>.png
    (EDITSERVE_SCREENSHOTS=0 turns that off, e.g. in CI)."""
    if os.environ.get("EDITSERVE_SCREENSHOTS", "1") == "0":
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.evaluate("() => document.getElementById('toast')?.classList.remove('show')")  # type: ignore[attr-defined]
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="initial")  # type: ignore[attr-defined]
    return path
