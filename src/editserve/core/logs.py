"""Logging set-up: plain text or one JSON object a line (EDITSERVE_LOG_FORMAT).

Every record carries the context of the work in hand: the generation id(s), the worker id
and the stage. The worker sets it (worker/batch.py, `log_context`) in a context variable,
so log calls anywhere below it (the adapter, storage) carry it without passing it along;
a call may also pass its own with ``extra={"generation_id": ...}``.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

CONTEXT_FIELDS = ("generation_id", "worker_id", "stage")

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "editserve_log_context", default=None
)


@contextlib.contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Add ``fields`` (generation_id, worker_id, stage) to every record logged inside."""
    merged = {**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def set_log_stage(stage: str) -> None:
    """Change the stage of the context in hand (the worker's run goes through several)."""
    current = _context.get()
    if current:
        _context.set({**current, "stage": stage})


def current_context() -> dict[str, str]:
    return dict(_context.get() or {})


class ContextFilter(logging.Filter):
    """Copies the context variable onto each record (unless the call set its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_context.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the context, any exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The plain format, with the context in brackets when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{name}={getattr(record, name)}"
            for name in CONTEXT_FIELDS
            if getattr(record, name, None) is not None
        )
        return f"{line} [{context}]" if context else line


def make_handler(log_format: str) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    return handler


def setup_logging(level: str, log_format: str = "text") -> None:
    """The root logger at ``level``, writing ``log_format`` lines to stderr."""
    root = logging.getLogger()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for handler in list(root.handlers):
        if getattr(handler, "_editserve", False):
            root.removeHandler(handler)
    handler = make_handler(log_format)
    handler._editserve = True  # type: ignore[attr-defined]
    root.addHandler(handler)
