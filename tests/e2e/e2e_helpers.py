"""Small helpers shared by the end-to-end tests."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

TERMINAL = {"succeeded", "failed", "cancelled"}


def wait_for(client: httpx.Client, generation_id: str, timeout: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/api/ai/queue/{generation_id}").json()
        if body["status"] in TERMINAL:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"generation {generation_id} not done in {timeout}s: {body}")
        time.sleep(0.2)


def wait_for_status(
    client: httpx.Client, generation_id: str, statuses: set[str], timeout: float = 120.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/api/ai/queue/{generation_id}").json()
        if body["status"] in statuses:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{generation_id} never reached {statuses}: {body}")
        time.sleep(0.05)


def read_sse(response: httpx.Response, until: Any, timeout: float = 120.0) -> list[dict[str, Any]]:
    """Parse SSE frames from a streaming response until `until(frames)` is true."""
    frames: list[dict[str, Any]] = []
    current: dict[str, Any] = {"raw": []}
    deadline = time.monotonic() + timeout
    for line in response.iter_lines():
        current["raw"].append(line)
        if line == "":
            if any(k in current for k in ("event", "data", "comment")):
                frames.append(current)
                if until(frames):
                    return frames
            current = {"raw": []}
        elif line.startswith(":"):
            current["comment"] = line
        elif line.startswith("id: "):
            current["id"] = int(line[4:])
        elif line.startswith("event: "):
            current["event"] = line[7:]
        elif line.startswith("data: "):
            current["data_raw"] = line[6:]
            current["data"] = json.loads(line[6:])
        if time.monotonic() > deadline:
            raise AssertionError(f"SSE condition not met in time; got {frames}")
    raise AssertionError(f"SSE stream ended early; got {frames}")


def edit_body(image: str | list[str], **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "qwen-image-edit-plus",
        "prompt": "Add a funny hat",
        "input_image": image,
        "num_inference_steps": 2,
    }
    body.update(params)
    return body
