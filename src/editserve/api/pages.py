"""The headers of the pages editserve serves to browsers (the workbench, /docs): each page
says its own Content-Security-Policy; the rest is the same for every page on this origin,
where the workbench keeps the API key."""

from __future__ import annotations


def page_headers(content_security_policy: str) -> dict[str, str]:
    return {
        # Revalidate every time (ETag / Last-Modified make that cheap): an upgraded server
        # must never run with yesterday's scripts.
        "Cache-Control": "no-cache",
        "Content-Security-Policy": content_security_policy,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }
