"""Logging set-up: plain text or one JSON object a line (EDITSERVE_LOG_FORMAT).

Every record carries the context of the work in hand: the generation id(s), the worker id
and the stage. The worker sets it (worker/batch.py, `log_context`) in a context variable,
so log calls anywhere below it (the adapter, storage) carry it without passing it along;
a call may also pass its own with ``extra={"generation_id": ...}``.

No secret reaches a log line: :class:`RedactFilter`, on editserve's handler and on
uvicorn's loggers (whose access log prints each request's path with its query), replaces
the values of secret-looking query parameters (``signature``, ``token``, ``key``,
``password``, presigned ``X-Amz-…`` credentials, …) and the user information of URLs
(``user:***@host``) with ``***``; :func:`redact_secrets` does the same to any text.

The libraries under the model print start-up notices nobody can act on (a torch
deprecation torchao triggers, diffusers' "experimental" attention backends, ...):
:func:`quiet_library_notices` turns those into DEBUG records, by logger and message.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import time
import warnings
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
        if record.exc_text:  # formatted (and redacted) by RedactFilter
            entry["exception"] = record.exc_text
        elif record.exc_info:
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


# --- secrets out of the logs ----------------------------------------------------------------

MASK = "***"
# A query parameter (or a conninfo word) whose name says it holds a secret, and its value:
# a name containing one of _SECRET_WORDS, or ending in one of _SECRET_ENDS.
_SECRET_WORDS = (
    "signature|token|secret|password|passwd|pwd|apikey|api_key|api-key|access_key|"
    "credential|session|auth(?!or)"
)
_SECRET_ENDS = "sig|key"
_SECRET_PARAM = re.compile(
    r"(?<![\w.-])(?P<name>(?:"
    rf"[\w.-]*(?:{_SECRET_WORDS})[\w.-]*"  # ...token..., X-Amz-Signature, password
    rf"|(?:[\w.-]*[_.-])?(?:{_SECRET_ENDS})"  # key, api_key, sig
    r")=)(?P<value>[^&\s\"'<>#;]+)",
    re.IGNORECASE,
)
# scheme://user:password@ or scheme://token@ (everything up to the last @ of the host part).
_USERINFO = re.compile(
    r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<userinfo>[^\s/?#@\"'<>]*(?:@[^\s/?#@\"'<>]*)*)@",
    re.IGNORECASE,
)


def _mask_userinfo(match: re.Match[str]) -> str:
    user, colon, _password = match["userinfo"].partition(":")
    if not colon:  # a lone name there is a token as often as a user: hide it
        return f"{match['scheme']}{MASK}@"
    return f"{match['scheme']}{user}:{MASK}@"


def redact_secrets(text: str) -> str:
    """``text`` with the values of secret-looking query parameters and the passwords (or
    lone tokens) in URLs replaced by ``***``."""
    if "=" in text:
        text = _SECRET_PARAM.sub(lambda m: m["name"] + MASK, text)
    if "@" in text:
        text = _USERINFO.sub(_mask_userinfo, text)
    return text


def _redact_arg(value: object) -> object:
    """A string redacted; any other argument whose text holds a secret (an httpx.URL, an
    exception) replaced by its redacted text; numbers and the rest unchanged."""
    if isinstance(value, str):
        return redact_secrets(value)
    if value is None or isinstance(value, int | float):
        return value
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ is the formatter's business
        return value
    redacted = redact_secrets(text)
    return value if redacted == text else redacted


class RedactFilter(logging.Filter):
    """Redacts secrets from a record: its message, its arguments (each, so formatters that
    read them, like uvicorn's access log, keep working), its exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redact_arg(arg) for key, arg in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_secrets(record.exc_text)
        return True


# uvicorn's loggers keep their own handlers (propagate=False); a filter on the logger
# survives uvicorn's dictConfig, which replaces handlers only.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def install_redaction() -> None:
    """The redacting filter on uvicorn's loggers (once each)."""
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactFilter) for f in logger.filters):
            logger.addFilter(RedactFilter())


# --- the libraries' notices nobody can act on --------------------------------------------

# Start-up notices of the libraries under the model that a user can do nothing about: the
# logger and a fragment of the message. They become DEBUG records (shown at
# EDITSERVE_LOG_LEVEL=debug only); every other record of those loggers is left alone.
LIBRARY_NOTICES: tuple[tuple[str, str], ...] = (
    # torchao registers its enums with a torch that now supports them natively
    ("torch.utils._pytree", "is an Enum subclass and is now natively supported"),
    # diffusers looks for torchao tensor classes that newer torchao releases moved
    ("diffusers.quantizers.torchao.torchao_quantizer", "Unable to import `torchao` Tensor"),
    # diffusers calls any choice of attention backend experimental (EDITSERVE_ATTENTION_BACKEND)
    ("diffusers.models.modeling_utils", "Attention backends are an experimental feature"),
)
# Deprecation warnings (the warnings module) that the libraries raise inside themselves:
# theirs to fix. One raised at editserve's own call (stacklevel) still shows.
LIBRARY_MODULES = (
    r"(torch|torchao|torchvision|diffusers|transformers|accelerate|peft|huggingface_hub"
    r"|safetensors|tokenizers)(\.|$)"
)


class DemoteFilter(logging.Filter):
    """Turns a logger's known notices (message fragments) into DEBUG records, passed on only
    when the root logger shows DEBUG."""

    def __init__(self, fragments: tuple[str, ...]) -> None:
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG:
            return True
        message = record.getMessage()
        if not any(fragment in message for fragment in self.fragments):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def quiet_library_notices(debug: bool) -> None:
    """The libraries' notices nobody can act on to DEBUG (LIBRARY_NOTICES), and, unless
    `debug`, their internal deprecation warnings hidden (LIBRARY_MODULES). Safe to call
    again; filters on the named loggers survive the libraries' own logging set-up."""
    fragments: dict[str, tuple[str, ...]] = {}
    for name, fragment in LIBRARY_NOTICES:
        fragments[name] = (*fragments.get(name, ()), fragment)
    for name, wanted in fragments.items():
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, DemoteFilter)]:
            logger.removeFilter(old)
        logger.addFilter(DemoteFilter(wanted))
    if debug:
        return
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category, module=LIBRARY_MODULES)
    # torch's own deprecation of an API that older transformers/diffusers still call
    warnings.filterwarnings("ignore", message=r".*_register_pytree_node is deprecated")


def make_handler(log_format: str) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactFilter())
    return handler


def setup_logging(level: str, log_format: str = "text") -> None:
    """The root logger at ``level``, writing ``log_format`` lines to stderr."""
    root = logging.getLogger()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    quiet_library_notices(debug=root.isEnabledFor(logging.DEBUG))
    for handler in list(root.handlers):
        if getattr(handler, "_editserve", False):
            root.removeHandler(handler)
    handler = make_handler(log_format)
    handler._editserve = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    install_redaction()
