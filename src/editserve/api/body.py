"""Reading JSON bodies with errors in the house vocabulary."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from editserve.core.errors import InvalidParams


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise InvalidParams("body: a JSON object is required")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidParams(f"body: malformed JSON ({exc})") from None
