"""Generation statuses and the events of ``GET /api/events``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACTIVE_STATUSES",
    "CANCELLED_STATUSES",
    "FAILED_STATUSES",
    "SUCCEEDED_STATUSES",
    "TERMINAL_STATUSES",
    "Event",
    "EventType",
]

# The hosted API's docs also speak of "completed"/"error"/"canceled"; accept those too.
SUCCEEDED_STATUSES = frozenset({"succeeded", "completed"})
FAILED_STATUSES = frozenset({"failed", "error"})
CANCELLED_STATUSES = frozenset({"cancelled", "canceled"})
TERMINAL_STATUSES = SUCCEEDED_STATUSES | FAILED_STATUSES | CANCELLED_STATUSES
ACTIVE_STATUSES = frozenset({"queued", "processing"})


class EventType:
    """The event names sent on ``GET /api/events``."""

    STARTED = "media_generation_started"
    PROGRESS = "media_generation_progress"
    COMPLETED = "media_generation_completed"
    CANCELLED = "media_generation_cancelled"


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event of ``GET /api/events``.

    ``type`` is the ``event:`` name (``media_generation_completed``, ...), ``data`` the
    decoded ``data:`` JSON, ``id`` the ``id:`` line (used for ``Last-Event-ID``).
    """

    type: str
    data: Any
    id: str | None = None

    @classmethod
    def from_sse(cls, event: str, data: str, event_id: str | None) -> Event:
        """Build from the raw fields of one SSE message."""
        try:
            decoded: Any = json.loads(data) if data else {}
        except ValueError:
            decoded = data
        return cls(type=event or "message", data=decoded, id=event_id)

    def _get(self, key: str) -> Any:
        return self.data.get(key) if isinstance(self.data, dict) else None

    @property
    def generation_id(self) -> str | None:
        """The generation this event is about."""
        return self._get("generation_id")

    @property
    def status(self) -> str | None:
        """The generation's status as of this event."""
        return self._get("status")

    @property
    def step(self) -> int | None:
        """Progress events: the denoising step just finished."""
        return self._get("step")

    @property
    def total(self) -> int | None:
        """Progress events: the number of denoising steps."""
        return self._get("total")

    @property
    def stage(self) -> str | None:
        """Progress events: the stage (e.g. ``encode``, ``denoise``, ``decode``)."""
        return self._get("stage")

    @property
    def url(self) -> str | None:
        """Completed events: the output's URL when it succeeded."""
        return self._get("url")

    @property
    def error(self) -> str | None:
        """Completed events: the error message when it failed."""
        return self._get("error")

    @property
    def is_terminal(self) -> bool:
        """True for the last event of a generation (completed or cancelled)."""
        return self.type in (EventType.COMPLETED, EventType.CANCELLED) or (
            self.status in TERMINAL_STATUSES
        )
