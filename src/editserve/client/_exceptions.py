"""Every exception the editserve client raises.

The tree::

    ClientError                      base of everything below
    ├── ConnectionError              the server could not be reached (after the retries);
    │                                also a builtins.ConnectionError
    └── APIError                     the server reported an error: .status, .type, .title,
        │                            .detail, .body (the envelope), .generation_id
        ├── InvalidRequestError      400 invalid_params (and 409, 413, 422)
        ├── AuthenticationError      401 unauthenticated
        │   └── PermissionDenied     403: the key lacks a scope (admin, submit, read)
        ├── NotFoundError            404 resource_not_found
        ├── RateLimitError           429 rate_limited (.retry_after seconds, from Retry-After)
        ├── ServerError              other 5xx (unknown_error, unavailable, ...)
        ├── GenerationError          a generation ended without an image (.generation)
        │   ├── GenerationFailed     it failed (queue.wait, or 500 generation_failed
        │   │                        from images.edit)
        │   └── GenerationCancelled  it was cancelled
        └── GenerationTimeout        it is still running but we stopped waiting (504 timeout
                                     from images.edit, or the timeout of queue.wait);
                                     also a builtins.TimeoutError. The generation is not
                                     lost: keep waiting with client.queue.wait(e.generation_id).

Every APIError carries the server's error envelope::

    {"error": {"type": ..., "title": ..., "detail": ...}, "status": "error", ...}

``status`` is the HTTP status code, or ``None`` when the error was read from a
generation's final state rather than from an HTTP error response.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from editserve.client._types import Generation

__all__ = [
    "APIError",
    "AuthenticationError",
    "ClientError",
    "ConnectionError",
    "GenerationCancelled",
    "GenerationError",
    "GenerationFailed",
    "GenerationTimeout",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDenied",
    "RateLimitError",
    "ServerError",
    "error_from_response",
]


class ClientError(Exception):
    """Base class of every error raised by the editserve client."""


class ConnectionError(ClientError, builtins.ConnectionError):  # noqa: A001
    """The server could not be reached, or stopped answering, after all retries."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.url = url


class APIError(ClientError):
    """The server answered with an error (or a generation ended in one).

    Attributes:
        status: HTTP status code; ``None`` when read from a generation's state.
        type: the envelope's error type, e.g. ``"invalid_params"``.
        title: short human title.
        detail: what went wrong; for ``invalid_params`` it names the field and the rule.
        body: the whole decoded response body (or ``{}``).
        generation_id: the generation concerned, when the server named one.
    """

    default_type = "unknown_error"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        type: str | None = None,  # noqa: A002 - the envelope's name for it
        title: str | None = None,
        body: dict[str, Any] | None = None,
        generation_id: str | None = None,
        headers: httpx.Headers | None = None,
    ) -> None:
        self.status = status
        self.type = type or self.default_type
        self.title = title or ""
        self.detail = detail
        self.body = body or {}
        self.generation_id = generation_id
        self.headers = headers if headers is not None else httpx.Headers()
        super().__init__(self._message())

    @property
    def status_code(self) -> int | None:
        """Alias of :attr:`status`, as httpx spells it."""
        return self.status

    def _message(self) -> str:
        head = f"{self.status} {self.type}" if self.status else self.type
        text = f"{head}: {self.detail}" if self.detail else head
        if self.generation_id and self.generation_id not in text:
            text += f" (generation {self.generation_id})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, type={self.type!r}, "
            f"detail={self.detail!r}, generation_id={self.generation_id!r})"
        )


class InvalidRequestError(APIError):
    """400: the request was refused as invalid (the detail names the field and the rule)."""

    default_type = "invalid_params"


class AuthenticationError(APIError):
    """401: the API key is missing, malformed, unknown or revoked."""

    default_type = "unauthenticated"


class PermissionDenied(AuthenticationError):
    """403: the key is valid but may not do this: it lacks the scope the call needs
    (``admin`` for the admin API and other keys' usage, ``submit`` to change anything,
    ``read`` to look). The detail names the scope. A subclass of
    :class:`AuthenticationError`, which 403s raised before."""

    default_type = "forbidden"


class NotFoundError(APIError):
    """404: no such generation, model, upload or route (for this key)."""

    default_type = "resource_not_found"


class RateLimitError(APIError):
    """429: too much queued work for this key; retry after :attr:`retry_after` seconds."""

    default_type = "rate_limited"

    def __init__(self, detail: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(detail, **kwargs)


class ServerError(APIError):
    """5xx: the server failed (``unknown_error``), or is not available (``unavailable``)."""


class GenerationError(APIError):
    """A generation ended without an image. :attr:`generation` holds it when known."""

    def __init__(self, detail: str, *, generation: Generation | None = None, **kwargs: Any) -> None:
        self.generation = generation
        if generation is not None:
            kwargs.setdefault("generation_id", generation.generation_id)
        super().__init__(detail, **kwargs)


class GenerationFailed(GenerationError):
    """The generation failed; :attr:`detail` is the server's error message."""

    default_type = "generation_failed"


class GenerationCancelled(GenerationError):
    """The generation was cancelled (by this client, another one, or an operator)."""

    default_type = "cancelled"


class GenerationTimeout(APIError, builtins.TimeoutError):
    """The generation is still queued or running, but the wait ended.

    Nothing is lost: the generation goes on; wait again with
    ``client.queue.wait(error.generation_id)`` or cancel it.
    """

    default_type = "timeout"

    def __init__(self, detail: str, *, generation_status: str | None = None, **kwargs: Any) -> None:
        self.generation_status = generation_status
        super().__init__(detail, **kwargs)


# --- mapping a response to an exception ---------------------------------------------------

_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFoundError,
    409: InvalidRequestError,
    413: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
}


def _decode_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"value": body}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare enough not to parse


def _envelope_fields(response: httpx.Response, body: dict[str, Any]) -> tuple[str, str, str]:
    """(type, title, detail) from our envelope, or from whatever the server sent."""
    error = body.get("error")
    if isinstance(error, dict):
        return (
            str(error.get("type") or body.get("status_message") or ""),
            str(error.get("title") or ""),
            str(error.get("detail") or error.get("message") or ""),
        )
    # Other shapes seen in the field: {"error": "..."}, {"detail": "..."}, {"message": ...}.
    detail = error if isinstance(error, str) else body.get("detail") or body.get("message")
    if not isinstance(detail, str) or not detail:
        text = response.text.strip() if not body else ""
        detail = text[:500] or response.reason_phrase or f"HTTP {response.status_code}"
    return str(body.get("status_message") or ""), "", detail


def error_from_response(response: httpx.Response) -> APIError:
    """The typed exception for an HTTP error response (the body must be read already)."""
    status = response.status_code
    body = _decode_body(response)
    type_, title, detail = _envelope_fields(response, body)
    generation_id = body.get("generation_id")
    generation_id = generation_id if isinstance(generation_id, str) else None
    common: dict[str, Any] = {
        "status": status,
        "type": type_ or None,
        "title": title or None,
        "body": body,
        "generation_id": generation_id,
        "headers": response.headers,
    }
    if type_ == "timeout" or (status == 504 and generation_id):
        status_now = body.get("generation_status")
        return GenerationTimeout(
            detail, generation_status=status_now if isinstance(status_now, str) else None, **common
        )
    if type_ == "generation_failed":
        return GenerationFailed(detail, **common)
    if type_ == "generation_cancelled":
        return GenerationCancelled(detail, **common)
    if status == 429:
        return RateLimitError(detail, retry_after=_retry_after(response), **common)
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else APIError
    return cls(detail, **common)
