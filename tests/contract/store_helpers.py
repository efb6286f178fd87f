"""What the contract tests share: a generation to enqueue, and how to read results."""

from __future__ import annotations

import time
import uuid
from typing import Any

from editserve.generations.record import Event, Generation, Status
from editserve.store import Store

MODEL = "qwen-image-edit-plus"
MODELS = [MODEL]


def make_gen(owner: str = "key_a", **overrides: Any) -> Generation:
    values: dict[str, Any] = dict(
        id=str(uuid.uuid4()),
        owner=owner,
        model=MODEL,
        status=Status.QUEUED,
        params={"prompt": "p", "input_image": ["x"]},
        inputs=[],
        batch_id=str(uuid.uuid4()),
        batch_index=0,
        seed=1,
        width=64,
        height=64,
        area=4096,
        enqueued_at=time.time(),
    )
    values.update(overrides)
    return Generation(**values)


def reload(store: Store, gen: Generation) -> Generation:
    found = store.get_generation(gen.id)
    assert found is not None
    return found


def payloads(events: list[Event]) -> list[tuple[str, dict[str, Any]]]:
    return [(event.type, event.data) for event in events]
