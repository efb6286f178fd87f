"""What ``client.batches`` returns (:class:`Batch`, :class:`BatchPage`,
:class:`BatchResult`) and the request helpers it shares. No I/O here.

Like the other result types, each keeps the whole decoded object in ``raw``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BATCH_ENDED",
    "Batch",
    "BatchCounts",
    "BatchPage",
    "BatchResult",
    "batch_id_of",
]

BATCH_ENDED = ("completed", "cancelled")


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class BatchCounts:
    """A batch's items by status (they add up to ``total``)."""

    total: int = 0
    queued: int = 0
    processing: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchCounts:
        return cls(**{name: int(data.get(name) or 0) for name in cls.__dataclass_fields__})

    @property
    def ended(self) -> int:
        """Items that will not change any more: succeeded, failed or cancelled."""
        return self.succeeded + self.failed + self.cancelled


@dataclass(frozen=True)
class Batch:
    """A batch of requests (``POST /api/ai/batches``): ``status`` is ``running``,
    ``completed`` (every item ended) or ``cancelled``; ``progress`` is the share of items
    ended (0-1). A poll of a batch reads one row on the server, however big it is."""

    id: str
    status: str
    counts: BatchCounts
    progress: float = 0.0
    priority: int = 0
    created_at: int | None = None
    finished_at: int | None = None
    cancel_requested: bool = False
    metadata: dict[str, Any] | None = None
    results_url: str | None = None
    zip_url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Batch:
        counts = data.get("counts")
        metadata = data.get("metadata")
        return cls(
            id=str(data.get("id") or ""),
            status=str(data.get("status") or ""),
            counts=BatchCounts.from_json(counts if isinstance(counts, Mapping) else {}),
            progress=float(data.get("progress") or 0.0),
            priority=_int(data.get("priority")) or 0,
            created_at=_int(data.get("created_at")),
            finished_at=_int(data.get("finished_at")),
            cancel_requested=bool(data.get("cancel_requested")),
            metadata=dict(metadata) if isinstance(metadata, Mapping) else None,
            results_url=data.get("results_url"),
            zip_url=data.get("zip_url"),
            raw=dict(data),
        )

    @property
    def done(self) -> bool:
        """Whether every item has ended (the batch completed or was cancelled)."""
        return self.status in BATCH_ENDED


@dataclass(frozen=True)
class BatchPage:
    """A page of batches, newest first; pass ``next_before`` as ``before`` for the next
    (older) page (``None``: this is the last)."""

    batches: list[Batch]
    next_before: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchPage:
        return cls(
            batches=[Batch.from_json(item) for item in data.get("data") or []],
            next_before=data.get("next_before"),
            raw=dict(data),
        )

    def __iter__(self) -> Iterator[Batch]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


@dataclass(frozen=True)
class BatchResult:
    """One line of a batch's manifest: the item at ``index`` (with its ``custom_id``), its
    generation and how it ended; ``result_url`` is the output's URL when it succeeded,
    ``error`` why not when it failed."""

    index: int
    generation_id: str
    status: str
    custom_id: str | None = None
    result_url: str | None = None
    error: str | None = None
    layer_urls: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchResult:
        return cls(
            index=int(data.get("index") or 0),
            generation_id=str(data.get("generation_id") or ""),
            status=str(data.get("status") or ""),
            custom_id=data.get("custom_id"),
            result_url=data.get("result_url"),
            error=data.get("error"),
            layer_urls=[str(url) for url in data.get("layer_urls") or []],
            raw=dict(data),
        )

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


def batch_id_of(batch: str | Batch) -> str:
    return batch.id if isinstance(batch, Batch) else str(batch)
