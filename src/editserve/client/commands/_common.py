"""What every client command shares: the connection options, exit codes, error reporting
and table formatting."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from editserve.client._exceptions import (
    APIError,
    ClientError,
    ConnectionError,
    GenerationError,
    GenerationTimeout,
)
from editserve.client._types import Generation

if TYPE_CHECKING:
    from editserve.client._client import Client

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_API_ERROR = 3
EXIT_GENERATION_FAILED = 4
EXIT_CONNECTION_ERROR = 5
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])


def connection_options(func: F) -> F:
    """--url, --api-key, --json: the options every client command takes."""
    func = click.option(
        "--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout."
    )(func)
    func = click.option(
        "--api-key",
        metavar="KEY",
        help="API key (default: $EDITSERVE_API_KEY, then $OXEN_API_KEY).",
    )(func)
    func = click.option(
        "--url",
        metavar="URL",
        help="Server root (default: $EDITSERVE_URL, then http://127.0.0.1:8000).",
    )(func)
    return func


def make_client(url: str | None, api_key: str | None, **kwargs: Any) -> Client:
    """A client from ``editserve.client.commands.client_factory``, looked up on each call
    (tests replace it)."""
    from editserve.client import commands

    return commands.client_factory(url, api_key, **kwargs)


def err(message: str) -> None:
    click.echo(message, err=True)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def error_json(exc: ClientError) -> dict[str, Any]:
    if isinstance(exc, APIError):
        error = {"type": exc.type, "title": exc.title, "detail": exc.detail, "status": exc.status}
        body: dict[str, Any] = {"error": error, "status": "error"}
        if exc.generation_id:
            body["generation_id"] = exc.generation_id
        if isinstance(exc, GenerationError) and exc.generation is not None:
            body["generation"] = exc.generation.raw
        return body
    return {"error": {"type": "connection_error", "detail": str(exc)}, "status": "error"}


def exit_code_for(exc: ClientError) -> int:
    """The CLI's exit code for a client error."""
    if isinstance(exc, GenerationError):
        return EXIT_GENERATION_FAILED
    if isinstance(exc, ConnectionError):
        return EXIT_CONNECTION_ERROR
    return EXIT_API_ERROR


def describe(exc: ClientError) -> str:
    if isinstance(exc, ConnectionError):
        return f"error: cannot reach the server: {exc}"
    if isinstance(exc, GenerationTimeout):
        return f"error: {exc.detail} (it keeps running: editserve queue get {exc.generation_id})"
    if isinstance(exc, GenerationError):
        what = "was cancelled" if exc.type == "cancelled" else "failed"
        return f"error: generation {exc.generation_id or '?'} {what}: {exc.detail}"
    if isinstance(exc, APIError):
        title = f" ({exc.title})" if exc.title else ""
        return f"error: {exc.status or ''} {exc.type}{title}: {exc.detail}".replace("  ", " ")
    return f"error: {exc}"


@contextmanager
def handle_errors(as_json: bool) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        err(describe(exc))
        if as_json:
            print_json(error_json(exc))
        sys.exit(exit_code_for(exc))


# --- formatting helpers -----------------------------------------------------------------------


def progress_text(gen: Generation) -> str:
    if gen.progress and gen.progress.total:
        return f"{gen.progress.step}/{gen.progress.total}"
    if gen.status == "queued" and gen.queue_position is not None:
        return f"#{gen.queue_position + 1} in queue"
    return ""


def short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def when(value: int | None) -> str | None:
    if value is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def print_table(headers: list[str], rows: list[list[str]], indent: str = "") -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(str(cell))) for w, cell in zip(widths, row, strict=True)]

    def line(cells: list[str]) -> str:
        return indent + "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))

    click.echo(line(headers).rstrip())
    for row in rows:
        click.echo(line(row).rstrip())
