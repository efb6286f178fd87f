"""The HTTP server's own bounds: what `editserve serve` asks of uvicorn, and what it adds.

uvicorn bounds an idle keep-alive connection (``timeout_keep_alive``) and answers 503 over
``limit_concurrency`` open connections or running requests, but a connection that opens
and then sends half a request head, or nothing, is held for ever (the keep-alive timer is
armed only after a response, and any byte received cancels it), and httptools takes a
request head of any size. So:

- **Header timeout** (``header_timeout_seconds``): ``GuardedHttpToolsProtocol`` closes a
  connection whose request head is not complete this long after the connection opened or
  after its previous response (408 if part of a head came, else silently). Once a head is
  complete the timer stops: a slow body, a long sync edit or an event stream is not cut.
- **Head size** (``max_header_bytes``): a request head (request line and headers) larger
  than this is refused with 431 before it is parsed, and a head still incomplete past
  it too, so a connection never buffers more than the limit and one read.
- **Keep-alive** (``keep_alive_seconds``) and **open connections** (``max_connections``)
  go to uvicorn; the connection cap is lowered to fit the process's open-file limit,
  which is first raised to its hard limit (``raise_open_file_limit``): 1,024, a common
  soft default, is far below what a node facing clients needs.

The protocol is httptools' (what uvicorn's "auto" picks; ``uvicorn[standard]`` brings
it); ``h11_max_incomplete_event_size`` is passed too, for a server run with h11.
"""

from __future__ import annotations

import asyncio
import http
import logging
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from editserve.core.limits import NodeLimits

log = logging.getLogger("editserve.api")

# Open files kept for what is not a client connection: the database, log and data files,
# worker pipes, outgoing fetches and webhook deliveries.
HEADROOM_FILES = 256
# Soft limits tried, largest first, where the hard limit is "unlimited" (macOS refuses a
# soft limit above its per-process maximum).
UNLIMITED_TRIES = (1 << 20, 65536, 10240)
HEAD_END = b"\r\n\r\n"


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size limit on each request head
    (the values: ``guarded_protocol``)."""

    header_timeout: float = 10.0
    max_header_bytes: int = 16384

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_timer: asyncio.TimerHandle | None = None
        # From the connection's start, or a request's end, to the end of the next head:
        self._awaiting_head = True
        self._head_bytes = 0  # bytes of that head received so far
        self._head_tail = b""  # its last bytes (a terminator split over two reads)

    # --- the deadline ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        self._awaiting_head = False
        self._head_bytes = 0
        self._head_tail = b""
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._awaiting_head = True  # the bytes after this request are the next one's head
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn arms its keep-alive timer when no pipelined request is waiting: the next
        # head is awaited from now on.
        if self.timeout_keep_alive_task is not None:
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_bytes:
            log.debug(
                "closing %s: request head incomplete after %g s", self.client, self.header_timeout
            )
            self._refuse(http.HTTPStatus.REQUEST_TIMEOUT, "Request head not received in time.")
        else:  # nothing of a next request: an idle connection, closed without a word
            self.transport.close()

    # --- the size -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head and self._head_too_large(data):
            self._refuse(
                http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                f"Request head larger than {self.max_header_bytes} bytes.",
            )
            return
        super().data_received(data)

    def _head_too_large(self, data: bytes) -> bool:
        """Count ``data`` into the awaited head: whether the head (to its end if it ends
        here, else so far) is over the limit."""
        window = self._head_tail + data
        end = window.find(HEAD_END)
        before = self._head_bytes - len(self._head_tail)  # the head's bytes before window
        self._head_bytes += len(data)
        self._head_tail = window[-(len(HEAD_END) - 1) :]
        size = self._head_bytes if end < 0 else before + end + len(HEAD_END)
        return size > self.max_header_bytes

    def _refuse(self, status: http.HTTPStatus, message: str) -> None:
        """Answer ``status`` with ``message`` and close (nothing more is read); only close
        while a response is still going out (a pipelined head over the limit)."""
        self._cancel_head_timer()
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()
            return
        body = message.encode("ascii")
        head = [f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode("ascii")]
        head += [
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        ]
        head += [
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def guarded_protocol(
    header_timeout: float, max_header_bytes: int
) -> type[GuardedHttpToolsProtocol]:
    """The protocol class for uvicorn.Config(http=...), with these bounds."""

    class Guarded(GuardedHttpToolsProtocol):
        pass

    Guarded.header_timeout = header_timeout
    Guarded.max_header_bytes = max_header_bytes
    return Guarded


def raise_open_file_limit() -> int | None:
    """Raise this process's soft limit on open files to its hard limit (its workers inherit
    it); the soft limit now (None: no such limit here, or unlimited)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    tries = UNLIMITED_TRIES if hard == resource.RLIM_INFINITY else (hard,)
    for wanted in tries:
        if soft != resource.RLIM_INFINITY and wanted > soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            except (ValueError, OSError):
                continue
            soft = wanted
            break
    return None if soft == resource.RLIM_INFINITY else soft


def connection_limit(max_connections: int, open_files: int | None) -> int:
    """max_connections, lowered to leave HEADROOM_FILES of the open-file limit free."""
    if open_files is None or open_files - HEADROOM_FILES >= max_connections:
        return max_connections
    fitted = max(16, open_files - HEADROOM_FILES)
    log.warning(
        "the open-file limit (%d) leaves room for %d connections, not "
        "EDITSERVE_MAX_CONNECTIONS=%d; raise the hard limit (ulimit -Hn, LimitNOFILE=, "
        "docker --ulimit nofile=) to allow more",
        open_files,
        fitted,
        max_connections,
    )
    return fitted


def server_options(limits: NodeLimits, open_files: int | None) -> dict[str, Any]:
    """uvicorn's options for this node's bounds (for uvicorn.run or uvicorn.Config)."""
    return {
        "http": guarded_protocol(limits.header_timeout_seconds, limits.max_header_bytes),
        "limit_concurrency": connection_limit(limits.max_connections, open_files),
        "timeout_keep_alive": limits.keep_alive_seconds,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
    }


__all__ = [
    "GuardedHttpToolsProtocol",
    "connection_limit",
    "guarded_protocol",
    "raise_open_file_limit",
    "server_options",
]
