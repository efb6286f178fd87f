"""The app in-process with a fake worker, and transports to call it from any client.

httpx.ASGITransport buffers the whole response body, which never ends for the event
stream, and it is async only. These transports hand the response back as soon as its head
is sent and stream the body, so `client.events()` and `queue.wait()` run in-process too;
the sync one drives the app on an event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from editserve.generations.record import Status

_EOF = object()


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """An ASGI transport whose responses stream (for SSE)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        disconnected = asyncio.Event()
        head: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        chunks: asyncio.Queue[Any] = asyncio.Queue()
        request_sent = False

        async def receive() -> dict[str, Any]:
            nonlocal request_sent
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                head.set_result(message)
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    await chunks.put(message["body"])
                if not message.get("more_body", False):
                    await chunks.put(_EOF)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "client": ("127.0.0.1", 50000),
            "server": (request.url.host, request.url.port or 80),
            "state": {},
        }

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            finally:
                if not head.done():
                    head.set_exception(RuntimeError("the app sent no response"))
                await chunks.put(_EOF)

        task = asyncio.create_task(run())
        start = await head

        async def stream() -> AsyncIterator[bytes]:
            try:
                while True:
                    chunk = await chunks.get()
                    if chunk is _EOF:
                        return
                    yield chunk
            finally:
                disconnected.set()
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout=5)

        return httpx.Response(
            start["status"],
            headers=[(k.decode(), v.decode()) for k, v in start.get("headers", [])],
            stream=_AsyncStream(stream()),
            request=request,
        )


class _AsyncStream(httpx.AsyncByteStream):
    def __init__(self, iterator: AsyncIterator[bytes]) -> None:
        self._iterator = iterator

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._iterator:
            yield chunk

    async def aclose(self) -> None:
        await self._iterator.aclose()  # type: ignore[attr-defined]


class SyncASGITransport(httpx.BaseTransport):
    """The streaming ASGI transport for the sync client: the app runs on an event loop in
    a background thread."""

    def __init__(self, app: Any) -> None:
        self._inner = StreamingASGITransport(app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        async_request = httpx.Request(
            request.method, request.url, headers=request.headers, content=body
        )
        response = self._call(self._inner.handle_async_request(async_request))
        read_timeout = request.extensions.get("timeout", {}).get("read")
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_SyncStream(self, response, read_timeout),
            request=request,
        )

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


class _SyncStream(httpx.SyncByteStream):
    def __init__(
        self, transport: SyncASGITransport, response: httpx.Response, read_timeout: float | None
    ) -> None:
        self._transport = transport
        self._iterator = response.aiter_raw()
        self._response = response
        self._read_timeout = read_timeout

    async def _next(self) -> Any:
        # wait_for cancels a timed-out read and lets it unwind before returning, so the
        # generator is never closed while it is still running.
        try:
            return await asyncio.wait_for(self._iterator.__anext__(), self._read_timeout)
        except StopAsyncIteration:
            return _EOF

    def __iter__(self) -> Iterator[bytes]:
        while True:
            try:
                chunk = self._transport._call(self._next())
            except TimeoutError:
                raise httpx.ReadTimeout("in-process read timed out") from None
            if chunk is _EOF:
                return
            yield chunk

    def close(self) -> None:
        self._transport._call(self._response.aclose(), timeout=10)


class FakeWorker:
    """Drives generations through the store the way a worker does (no model)."""

    def __init__(self, store: Any, worker_id: str = "test-worker") -> None:
        self.store = store
        self.worker_id = worker_id

    def claim(self) -> Any:
        from editserve.store.rows import WorkerRow

        now = time.time()
        self.store.upsert_worker(
            WorkerRow(self.worker_id, "localhost", 1, "cpu", "ready", now, now)
        )
        return self.store.claim(
            self.worker_id, ["qwen-image-edit-plus"], lease_seconds=30.0, max_attempts=3
        )

    def progress(self, gen: Any, step: int, total: int, stage: str = "denoise") -> None:
        self.store.report_progress([gen], self.worker_id, step, total, stage, emit=True)

    def succeed(self, gen: Any, storage: Any, data: bytes) -> None:
        key = f"outputs/{gen.id}.png"
        storage.put(key, data, "image/png")
        self.store.finish(gen, self.worker_id, Status.SUCCEEDED, result_key=key)

    def cancel(self, gen: Any) -> None:
        self.store.finish(gen, self.worker_id, Status.CANCELLED)

    def fail(self, gen: Any, message: str) -> None:
        self.store.finish(gen, self.worker_id, Status.FAILED, error_message=message)


BASE = "http://testserver"


def png(color: tuple[int, int, int] = (200, 40, 40), size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


OUTPUT = png((1, 2, 3), (16, 16))


class App:
    def __init__(self, tmp_path: Path, **overrides: Any) -> None:
        from editserve.api.app import create_app
        from editserve.config import Settings
        from editserve.keys import create_key

        settings = Settings(
            data_dir=tmp_path, sse_poll_seconds=0.02, sse_keepalive_seconds=0.5, **overrides
        )
        self.app = create_app(settings)
        self.services = self.app.state.services
        self.key = create_key(self.services.store, "test").secret
        self.worker = FakeWorker(self.services.store)

    def run_worker(
        self, *, steps: int = 3, outcome: str = "succeed", delay: float = 0.05
    ) -> threading.Thread:
        """Claim the next job in a thread and take it through `steps` progress events."""

        def work() -> None:
            deadline = time.monotonic() + 10
            gen = None
            while gen is None and time.monotonic() < deadline:
                gen = self.worker.claim()
                time.sleep(0.02)
            assert gen is not None, "no job to claim"
            for step in range(1, steps + 1):
                time.sleep(delay)
                if self.services.store.is_cancel_requested(gen.id):
                    self.worker.cancel(gen)
                    return
                self.worker.progress(gen, step, steps, "denoising" if step < steps else "decoding")
            time.sleep(delay)
            if outcome == "succeed":
                self.worker.succeed(gen, self.services.storage, OUTPUT)
            else:
                self.worker.fail(gen, "the tiny model exploded")

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        return thread
