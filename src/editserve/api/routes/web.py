"""The workbench: static files under /workbench/ (no auth; the page asks for a key), / → it.

Plain files from ``editserve/web`` (HTML, CSS, ES modules), no build step. A strict
Content-Security-Policy keeps the page from loading anything that is not served here.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse, RedirectResponse, Response

from editserve.api.pages import page_headers
from editserve.core.errors import NotFound

router = APIRouter(include_in_schema=False)

WEB_ROOT = (Path(__file__).resolve().parent.parent.parent / "web").resolve()
INDEX = "index.html"

# Scripts, styles and fonts only from this origin. Images may come from elsewhere (a user's
# input URL, or S3 presigned result links), and so may fetches of results (S3, for "use
# output as input"); nothing is ever loaded from a CDN.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "font-src 'self'",
        "img-src 'self' data: blob: http: https:",
        "connect-src 'self' http: https:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
}


def resolve_asset(relative: str) -> Path:
    """The file under WEB_ROOT for a request path, or NotFound (never escapes the root)."""
    relative = relative.lstrip("/") or INDEX
    candidate = (WEB_ROOT / relative).resolve()
    if not candidate.is_relative_to(WEB_ROOT):
        raise NotFound(f"Not found: /workbench/{relative}")
    if candidate.is_dir():
        candidate = candidate / INDEX
    if not candidate.is_file():
        raise NotFound(f"Not found: /workbench/{relative}")
    return candidate


def _file(path: Path) -> Response:
    media_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    return FileResponse(path, media_type=media_type, headers=page_headers(CONTENT_SECURITY_POLICY))


@router.api_route("/", methods=["GET", "HEAD"])
async def root() -> RedirectResponse:
    return RedirectResponse("/workbench/", status_code=307)


@router.api_route("/workbench", methods=["GET", "HEAD"])
async def workbench_no_slash() -> RedirectResponse:
    return RedirectResponse("/workbench/", status_code=307)


@router.api_route("/workbench/{path:path}", methods=["GET", "HEAD"])
async def workbench(path: str) -> Response:
    return _file(resolve_asset(path))


@router.api_route("/favicon.ico", methods=["GET", "HEAD"])
async def favicon() -> Response:
    return _file(resolve_asset("favicon.svg"))
