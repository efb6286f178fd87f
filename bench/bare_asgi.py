"""The floor for HTTP cost: a bare Starlette app under uvicorn answering a tiny JSON.

    python -m bench.bare_asgi PORT

Same server (uvicorn), same loop and HTTP parser as editserve's API, no app logic: the
``overhead`` section times a request to it next to editserve's own requests.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def ok(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/healthz", ok)])


def main() -> None:
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")


if __name__ == "__main__":
    main()
