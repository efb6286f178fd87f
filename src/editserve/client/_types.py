"""Typed results: Generation, Image, EditResult, Event, Model, Upload, GenerationPage.

Each is built from the server's JSON with ``from_json`` and keeps the whole decoded object
in ``raw``, so fields that a server adds later (or that the hosted API has and editserve
does not) are never lost. Objects that point at an image can fetch it: they hold a
reference to the client that made them (``read_bytes`` / ``save`` / ``to_pil`` with a
:class:`~editserve.client.Client`; ``aread_bytes`` / ``asave`` / ``ato_pil`` with an
:class:`~editserve.client.AsyncClient`).

This module gathers them from ``_event_types`` (statuses, events), ``_image_types``
(images, the edit result), ``_generation_types`` (generations, history pages) and
``_model_types`` (models, uploads).
"""

from editserve.client._event_types import (
    ACTIVE_STATUSES,
    CANCELLED_STATUSES,
    FAILED_STATUSES,
    SUCCEEDED_STATUSES,
    TERMINAL_STATUSES,
    Event,
    EventType,
)
from editserve.client._generation_types import Generation, GenerationPage, Progress
from editserve.client._image_types import EditResult, Image, content_type_for, sniff_format
from editserve.client._model_types import Model, Upload

__all__ = [
    "EditResult",
    "Event",
    "EventType",
    "Generation",
    "GenerationPage",
    "Image",
    "Model",
    "Progress",
    "TERMINAL_STATUSES",
    "Upload",
    # also importable from here, as before the split
    "ACTIVE_STATUSES",
    "CANCELLED_STATUSES",
    "FAILED_STATUSES",
    "SUCCEEDED_STATUSES",
    "content_type_for",
    "sniff_format",
]
