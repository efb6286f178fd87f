"""One error envelope for every failure, installed once for the whole app."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from editserve.core.errors import (
    EditserveError,
    InvalidParams,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    UnknownError,
)
from editserve.services.generations.requests import describe_validation_error
from editserve.services.openai.wire import openai_error_body
from editserve.store import is_store_unavailable

log = logging.getLogger("editserve.api")


# Paths that answer errors in OpenAI's envelope (the OpenAI-compatible API).
OPENAI_PREFIX = "/v1/"


def error_response(error: EditserveError, path: str = "") -> JSONResponse:
    """The error in the one envelope (OpenAI's on the OpenAI-compatible paths)."""
    body = openai_error_body(error) if path.startswith(OPENAI_PREFIX) else error.envelope()
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


async def _editserve_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EditserveError)
    return error_response(exc, request.url.path)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return error_response(
            NotFound(f"No route for {request.method} {request.url.path}"), request.url.path
        )
    if exc.status_code == 405:
        response = error_response(
            MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}"),
            request.url.path,
        )
        allowed = _allowed_methods(request)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
        elif exc.headers and "allow" in {k.lower() for k in exc.headers}:
            response.headers.update(exc.headers)
        return response
    if exc.status_code == 413:
        return error_response(PayloadTooLarge(str(exc.detail)), request.url.path)
    if exc.status_code == 400:  # e.g. a multipart body Starlette cannot parse
        log.info("unparsable body on %s %s: %s", request.method, request.url.path, exc.detail)
        declared = request.headers.get("content-type", "").split(";")[0] or "its Content-Type"
        return error_response(
            InvalidParams(f"body: could not be parsed as {declared}"), request.url.path
        )
    error = EditserveError(str(exc.detail), title="HTTP error")
    error.status_code = exc.status_code
    error.type = "http_error"
    return error_response(error, request.url.path)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes on this path (Starlette names only the first route's)."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for item in exc.errors():
        loc = [str(x) for x in item.get("loc", ()) if x not in ("query", "path", "body", "header")]
        parts.append(f"{'.'.join(loc) or 'request'}: {item.get('msg', 'invalid')}")
    return error_response(InvalidParams("; ".join(parts)), request.url.path)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_store_unavailable(exc):
        log.warning("store busy on %s %s: %s", request.method, request.url.path, exc)
        return error_response(
            Unavailable(
                "the job store is busy or unavailable; retry shortly",
                headers={"Retry-After": "2"},
            ),
            request.url.path,
        )
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        UnknownError("An internal error occurred; it has been logged."), request.url.path
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(EditserveError, _editserve_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)


class BodySizeLimit:
    """Refuse bodies over the limit with 413, by header and while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLarge(f"body: larger than the limit of {self.max_bytes} bytes")
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await error_response(too_large, scope.get("path", ""))(scope, receive, send)
                    return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise too_large
            return message

        await self.app(scope, limited_receive, send)


__all__ = ["BodySizeLimit", "describe_validation_error", "install_error_handlers"]
