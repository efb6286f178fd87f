"""The API server the events benchmark talks to, in a process of its own.

    python -m bench.sse_server DATA_DIR PORT

The real app (create_app) over a SQLite store in DATA_DIR, plus two routes for the
benchmark only: ``/bench/stats`` (store statements run, process CPU seconds, RSS bytes)
and ``/bench/legacy-events``, the SSE loop editserve had before the event hub (each
subscriber polls the store on its own, every sse_poll_seconds), as the baseline.
"""

from __future__ import annotations

import asyncio
import resource
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import uvicorn
from anyio import to_thread
from fastapi import Depends, Request
from starlette.responses import JSONResponse, StreamingResponse

from editserve.api.app import create_app
from editserve.api.auth import require_key
from editserve.api.context import url_builder
from editserve.api.routes.events import format_event
from editserve.core.settings import Settings


def counting(dialect: Any, counter: list[int]) -> None:
    """Count every statement the store runs (one, all, rowcount, transactions)."""
    for name in ("one", "all", "rowcount", "tx"):
        original = getattr(dialect, name)

        def wrapped(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            counter[0] += 1
            return _original(*args, **kwargs)

        setattr(dialect, name, wrapped)


def build(data_dir: Path) -> Any:
    settings = Settings(data_dir=data_dir, sse_keepalive_seconds=30.0)
    app = create_app(settings)
    store = app.state.services.store
    counter = [0]
    counting(store.dialect, counter)
    process = psutil.Process()

    @app.get("/bench/stats")
    async def stats() -> JSONResponse:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return JSONResponse(
            {"statements": counter[0], "cpu": usage.ru_utime + usage.ru_stime,
             "rss": process.memory_info().rss,
             "subscribers": app.state.services.generations.feed.hub.subscribers()}
        )  # fmt: skip

    @app.get("/bench/legacy-events")
    async def legacy(request: Request, owner: str = Depends(require_key)) -> StreamingResponse:
        url_for = url_builder(request)
        after = await to_thread.run_sync(store.last_event_id, owner)

        async def stream() -> AsyncIterator[str]:
            nonlocal after
            yield ": hello\n\n"
            while True:  # the loop of generations/feed.py before the hub
                batch = await to_thread.run_sync(store.events_after, owner, after)
                for event in batch:
                    after = event.id
                    yield format_event(event, url_for)
                if not batch:
                    if await request.is_disconnected():
                        return
                    await asyncio.sleep(settings.sse_poll_seconds)

        return StreamingResponse(stream(), media_type="text/event-stream")

    return app


def main() -> None:
    data_dir, port = Path(sys.argv[1]), int(sys.argv[2])
    uvicorn.run(build(data_dir), host="127.0.0.1", port=port, log_level="warning",
                backlog=4096)  # fmt: skip


if __name__ == "__main__":
    main()
