"""The one error vocabulary of editserve.

Every error a client can see is an :class:`EditserveError`. Each subclass knows its
envelope ``type`` and its HTTP status; the API installs one handler that renders any of
them as::

    {"error": {"type": ..., "title": ..., "detail": ...},
     "status": "error", "status_message": <type>}

Tree::

    EditserveError
    ├── InvalidParams        400 invalid_params      (detail names the field and the rule)
    ├── Unauthenticated      401 unauthenticated
    ├── NotFound             404 resource_not_found
    ├── MethodNotAllowed     405 method_not_allowed
    ├── Conflict             409 conflict
    │   └── GenerationCancelledError 409 generation_cancelled (sync edit cancelled meanwhile)
    ├── PayloadTooLarge      413 payload_too_large
    ├── RateLimited          429 rate_limited        (carries retry_after seconds)
    ├── GenerationFailed     500 generation_failed   (sync edit whose generation failed)
    ├── Unavailable          503 unavailable
    ├── GatewayTimeout       504 timeout             (sync edit still running; has generation_id)
    └── UnknownError         500 unknown_error       (never carries a stack trace)
"""

from __future__ import annotations

from typing import Any


class EditserveError(Exception):
    type: str = "unknown_error"
    status_code: int = 500
    title: str = "Unknown error"

    def __init__(
        self,
        detail: str,
        *,
        title: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if title is not None:
            self.title = title
        self.extra = extra or {}
        self.headers = headers or {}

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "error": {"type": self.type, "title": self.title, "detail": self.detail},
            "status": "error",
            "status_message": self.type,
        }
        body.update(self.extra)
        return body


class InvalidParams(EditserveError):
    type = "invalid_params"
    status_code = 400
    title = "Invalid parameters"


class Unauthenticated(EditserveError):
    type = "unauthenticated"
    status_code = 401
    title = "Unauthenticated"


class Forbidden(EditserveError):
    type = "forbidden"
    status_code = 403
    title = "Forbidden"


class NotFound(EditserveError):
    type = "resource_not_found"
    status_code = 404
    title = "Not found"


class MethodNotAllowed(EditserveError):
    type = "method_not_allowed"
    status_code = 405
    title = "Method not allowed"


class Conflict(EditserveError):
    type = "conflict"
    status_code = 409
    title = "Conflict"


class GenerationCancelledError(Conflict):
    type = "generation_cancelled"
    title = "Generation cancelled"


class PayloadTooLarge(EditserveError):
    type = "payload_too_large"
    status_code = 413
    title = "Payload too large"


class RateLimited(EditserveError):
    type = "rate_limited"
    status_code = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class GenerationFailed(EditserveError):
    type = "generation_failed"
    status_code = 500
    title = "Generation failed"


class Unavailable(EditserveError):
    type = "unavailable"
    status_code = 503
    title = "Service unavailable"


class GatewayTimeout(EditserveError):
    type = "timeout"
    status_code = 504
    title = "Still running"


class UnknownError(EditserveError):
    type = "unknown_error"
    status_code = 500
    title = "Internal server error"
