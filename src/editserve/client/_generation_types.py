"""Generations as the queue and history endpoints describe them: :class:`Generation`, its
:class:`Progress`, and a page of history (:class:`GenerationPage`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from editserve.client._event_types import SUCCEEDED_STATUSES, TERMINAL_STATUSES
from editserve.client._image_types import Image

if TYPE_CHECKING:
    import os

    import PIL.Image

__all__ = ["Generation", "GenerationPage", "Progress"]


@dataclass(frozen=True)
class Progress:
    """Denoising progress of a running generation: ``step`` of ``total``."""

    step: int
    total: int

    @property
    def fraction(self) -> float:
        """``step / total`` in [0, 1]."""
        return self.step / self.total if self.total else 0.0


_GENERATION_FIELDS = (
    "generation_id",
    "model_name",
    "prompt",
    "media_type",
    "status",
    "result_url",
    "error_message",
    "enqueued_at",
    "started_at",
    "completed_at",
    "seed",
    "width",
    "height",
    "progress",
    "stage",
    "queue_position",
    "eta_seconds",
    "attempts",
    "input_urls",
    "layer_urls",
    "timings",
    "receipt",
    "target_namespace",
    "cancel_requested",
)


@dataclass(frozen=True, eq=False)
class Generation:
    """One generation (one output image) as ``GET /api/ai/queue/{id}`` describes it.

    ``status`` is one of ``queued``, ``processing``, ``succeeded``, ``failed``,
    ``cancelled``. Request parameters echoed by the server (``aspect_ratio``,
    ``input_image``, ``negative_prompt``, ...) are in :attr:`params`; the whole object is
    in :attr:`raw`. Only ``generation_id`` and ``status`` are known right after
    ``queue.submit``.
    """

    generation_id: str
    status: str
    model_name: str | None = None
    prompt: str | None = None
    media_type: str | None = None
    result_url: str | None = None
    error_message: str | None = None
    enqueued_at: int | None = None
    started_at: int | None = None
    completed_at: int | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    progress: Progress | None = None
    stage: str | None = None
    queue_position: int | None = None
    eta_seconds: float | None = None
    attempts: int | None = None
    input_urls: list[str] = field(default_factory=list)
    # A layered model's layers, in order (the first, the bottom one, is also result_url).
    layer_urls: list[str] = field(default_factory=list)
    timings: dict[str, float] | None = None
    receipt: dict[str, Any] | None = None
    target_namespace: str | None = None
    cancel_requested: bool | None = None
    params: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    _client: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], *, client: Any = None) -> Generation:
        """Build from a generation object of the queue or generations endpoints."""
        kwargs: dict[str, Any] = {name: data.get(name) for name in _GENERATION_FIELDS}
        progress = kwargs["progress"]
        kwargs["progress"] = (
            Progress(int(progress.get("step") or 0), int(progress.get("total") or 0))
            if isinstance(progress, dict)
            else None
        )
        kwargs["generation_id"] = str(data.get("generation_id") or data.get("id") or "")
        kwargs["status"] = str(data.get("status") or "unknown")
        kwargs["input_urls"] = list(data.get("input_urls") or [])
        kwargs["layer_urls"] = list(data.get("layer_urls") or [])
        params = {k: v for k, v in data.items() if k not in _GENERATION_FIELDS}
        return cls(**kwargs, params=params, raw=dict(data), _client=client)

    def __repr__(self) -> str:
        parts = [f"generation_id={self.generation_id!r}", f"status={self.status!r}"]
        if self.progress is not None:
            parts.append(f"progress={self.progress.step}/{self.progress.total}")
        for name in ("stage", "queue_position", "seed", "result_url", "error_message"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        return f"Generation({', '.join(parts)})"

    @property
    def id(self) -> str:
        """Alias of :attr:`generation_id`."""
        return self.generation_id

    @property
    def done(self) -> bool:
        """True once the generation is ``succeeded``, ``failed`` or ``cancelled``."""
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        """True if the generation produced its image."""
        return self.status in SUCCEEDED_STATUSES

    @property
    def image(self) -> Image | None:
        """The output image (``None`` until the generation succeeded)."""
        if not self.result_url:
            return None
        return Image(
            url=self.result_url,
            generation_id=self.generation_id,
            seed=self.seed,
            _client=self._client,
        )

    @property
    def layers(self) -> list[Image]:
        """A layered model's layers, bottom first (empty for other models): each with
        ``save``, ``read_bytes`` and ``to_pil`` like :attr:`image`."""
        return [
            Image(url=url, generation_id=self.generation_id, seed=self.seed, _client=self._client)
            for url in self.layer_urls
        ]

    def _require_image(self) -> Image:
        image = self.image
        if image is None:
            raise ValueError(f"generation {self.generation_id} has no result yet ({self.status})")
        return image

    def read_bytes(self) -> bytes:
        """The output image's bytes (see :meth:`Image.read_bytes`)."""
        return self._require_image().read_bytes()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the output image (see :meth:`Image.save`); returns the path written."""
        return self._require_image().save(path)

    def to_pil(self) -> PIL.Image.Image:
        """The output image decoded by Pillow."""
        return self._require_image().to_pil()

    async def aread_bytes(self) -> bytes:
        """Async :meth:`read_bytes`."""
        return await self._require_image().aread_bytes()

    async def asave(self, path: str | os.PathLike[str]) -> Path:
        """Async :meth:`save`."""
        return await self._require_image().asave(path)


@dataclass(frozen=True)
class GenerationPage:
    """One page of ``GET /api/ai/generations`` (iterable over its generations)."""

    generations: list[Generation]
    page_number: int
    page_size: int
    total_entries: int
    total_pages: int
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], *, client: Any = None) -> GenerationPage:
        """Build from the history endpoint's response."""
        gens = [Generation.from_json(g, client=client) for g in data.get("generations") or []]
        return cls(
            generations=gens,
            page_number=int(data.get("page_number") or 1),
            page_size=int(data.get("page_size") or len(gens)),
            total_entries=int(data.get("total_entries") or len(gens)),
            total_pages=int(data.get("total_pages") or (1 if gens else 0)),
            raw=dict(data),
        )

    @property
    def has_next(self) -> bool:
        """True if there is a page after this one."""
        return self.page_number < self.total_pages

    def __iter__(self) -> Iterator[Generation]:
        return iter(self.generations)

    def __len__(self) -> int:
        return len(self.generations)
