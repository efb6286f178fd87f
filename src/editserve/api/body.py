"""Reading JSON bodies with errors in the house vocabulary.

A request body is at most a few levels deep (``loras`` items are the deepest, at 3); one
nested deeper than ``MAX_JSON_DEPTH`` is refused with a 400 naming the rule, before
anything else walks it (Python's parser would otherwise recurse until the interpreter
gives up: a 500 with a traceback in the log).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from editserve.core.errors import InvalidParams

MAX_JSON_DEPTH = 32
_TOO_DEEP = f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels"


async def json_body(request: Request) -> Any:
    return parse_json_body(await request.body())


def parse_json_body(raw: bytes) -> Any:
    """The JSON value of a body, or InvalidParams naming the rule it breaks."""
    if not raw.strip():
        raise InvalidParams("body: a JSON object is required")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise InvalidParams(_TOO_DEEP) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidParams(f"body: malformed JSON ({exc})") from None
    # Only a body with that many brackets at all can be that deep: most skip the walk.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and json_depth(value) > MAX_JSON_DEPTH:
        raise InvalidParams(_TOO_DEEP)
    return value


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (a scalar is 0), walked
    without recursion; the walk stops once it is past MAX_JSON_DEPTH."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            break  # deep enough to refuse: no need to see the rest
        stack.extend((child, depth) for child in children)
    return deepest
