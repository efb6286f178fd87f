"""Typed results: Generation, Image, EditResult, Event, Model, Upload, GenerationPage.

Each is built from the server's JSON with ``from_json`` and keeps the whole decoded object
in ``raw``, so fields that a server adds later (or that the hosted API has and editserve
does not) are never lost. Objects that point at an image can fetch it: they hold a
reference to the client that made them (``read_bytes`` / ``save`` / ``to_pil`` with a
:class:`~editserve.client.Client`; ``aread_bytes`` / ``asave`` / ``ato_pil`` with an
:class:`~editserve.client.AsyncClient`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import os

    import PIL.Image

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


# --- fetching images -----------------------------------------------------------------------


class _SyncFetcher(Protocol):
    def _download(self, url: str) -> tuple[bytes, str | None]: ...


class _AsyncFetcher(Protocol):
    async def _adownload(self, url: str) -> tuple[bytes, str | None]: ...


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
)


def sniff_format(data: bytes) -> str | None:
    """The image format of some bytes by their magic number: png, jpg, webp, gif, bmp."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


_CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "bmp": "image/bmp",
}


def content_type_for(fmt: str | None) -> str:
    """The MIME type of an image format name (``application/octet-stream`` if unknown)."""
    return _CONTENT_TYPES.get(fmt or "", "application/octet-stream")


@dataclass(eq=False)
class Image:
    """One output image: a URL (signed; works without the key for a while) or base64 data.

    ``read_bytes()`` downloads it once and caches the bytes; ``save(path)`` writes it
    (into a folder, named after the generation and format); ``to_pil()`` decodes it.
    """

    url: str | None = None
    b64_json: str | None = None
    generation_id: str | None = None
    seed: int | None = None
    _client: Any = field(default=None, repr=False)
    _data: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_json(
        cls,
        data: dict[str, Any],
        *,
        client: Any = None,
        generation_id: str | None = None,
        seed: int | None = None,
    ) -> Image:
        """Build from one item of a ``/images/edit`` response's ``images`` list."""
        return cls(
            url=data.get("url"),
            b64_json=data.get("b64_json"),
            generation_id=data.get("generation_id") or generation_id,
            seed=data.get("seed", seed),
            _client=client,
        )

    # --- sync ----------------------------------------------------------------------------
    def read_bytes(self) -> bytes:
        """The image's encoded bytes (PNG/JPEG/WebP), downloaded on first use."""
        if self._data is None:
            self._data = self._decode_b64()
        if self._data is None:
            if self._client is None or not hasattr(self._client, "_download"):
                raise RuntimeError(
                    "this image belongs to an AsyncClient: use `await image.aread_bytes()`"
                    if self._client is not None
                    else "this image has no client to download it with"
                )
            self._data, _ = self._client._download(self._require_url())
        return self._data

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the image to ``path`` (a file, or a folder to put ``<id>.<ext>`` in).

        Returns the path written. Parent folders are created.
        """
        return self._write(Path(path), self.read_bytes())

    def to_pil(self) -> PIL.Image.Image:
        """The image decoded by Pillow."""
        return _to_pil(self.read_bytes())

    # --- async ---------------------------------------------------------------------------
    async def aread_bytes(self) -> bytes:
        """Async :meth:`read_bytes` (for images from an :class:`AsyncClient`)."""
        if self._data is None:
            self._data = self._decode_b64()
        if self._data is None:
            if self._client is None or not hasattr(self._client, "_adownload"):
                return self.read_bytes()
            self._data, _ = await self._client._adownload(self._require_url())
        return self._data

    async def asave(self, path: str | os.PathLike[str]) -> Path:
        """Async :meth:`save`."""
        return self._write(Path(path), await self.aread_bytes())

    async def ato_pil(self) -> PIL.Image.Image:
        """Async :meth:`to_pil`."""
        return _to_pil(await self.aread_bytes())

    # --- helpers -------------------------------------------------------------------------
    @property
    def format(self) -> str | None:
        """``png``, ``jpg`` or ``webp`` once the bytes are known, else a guess from the URL."""
        if self._data is None and self.b64_json:
            self._data = self._decode_b64()
        if self._data is not None:
            return sniff_format(self._data)
        if self.url:
            suffix = Path(self.url.split("?", 1)[0]).suffix.lower().lstrip(".")
            return {"jpeg": "jpg"}.get(suffix, suffix) or None
        return None

    def _decode_b64(self) -> bytes | None:
        if not self.b64_json:
            return None
        text = self.b64_json
        if text.startswith("data:"):
            text = text.split(",", 1)[-1]
        try:
            return base64.b64decode(text, validate=False)
        except binascii.Error as exc:
            raise ValueError(f"b64_json is not valid base64: {exc}") from None

    def _require_url(self) -> str:
        if not self.url:
            raise ValueError("this image has neither a URL nor base64 data")
        return self.url

    def _write(self, path: Path, data: bytes) -> Path:
        if path.is_dir():
            ext = sniff_format(data) or "png"
            path = path / f"{self.generation_id or 'image'}.{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path


def _to_pil(data: bytes) -> PIL.Image.Image:
    import io

    import PIL.Image

    image = PIL.Image.open(io.BytesIO(data))
    image.load()
    return image


# --- generations ---------------------------------------------------------------------------


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


# --- the synchronous edit --------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class EditResult:
    """The answer of ``POST /api/ai/images/edit``: the output image(s) and what made them.

    ``result.save("out.png")``, ``result.read_bytes()`` and ``result.to_pil()`` act on
    the first image; all of them are in :attr:`images`.
    """

    model: str
    created: int
    images: list[Image]
    generation_id: str | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    timings: dict[str, float] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], *, client: Any = None) -> EditResult:
        """Build from the sync edit endpoint's response."""
        gen_id = data.get("generation_id")
        seed = data.get("seed")
        images = [
            Image.from_json(item, client=client, generation_id=gen_id, seed=seed)
            for item in data.get("images") or []
            if isinstance(item, dict)
        ]
        return cls(
            model=str(data.get("model") or ""),
            created=int(data.get("created") or 0),
            images=images,
            generation_id=gen_id,
            seed=seed,
            width=data.get("width"),
            height=data.get("height"),
            timings=data.get("timings"),
            raw=dict(data),
        )

    @property
    def image(self) -> Image:
        """The first (usually the only) output image."""
        if not self.images:
            raise ValueError("the response holds no image")
        return self.images[0]

    @property
    def url(self) -> str | None:
        """The first image's URL (``None`` with ``response_format="b64_json"``)."""
        return self.image.url

    def read_bytes(self) -> bytes:
        """The first image's bytes."""
        return self.image.read_bytes()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the first image; returns the path written."""
        return self.image.save(path)

    def to_pil(self) -> PIL.Image.Image:
        """The first image decoded by Pillow."""
        return self.image.to_pil()

    async def aread_bytes(self) -> bytes:
        """Async :meth:`read_bytes`."""
        return await self.image.aread_bytes()

    async def asave(self, path: str | os.PathLike[str]) -> Path:
        """Async :meth:`save`."""
        return await self.image.asave(path)


# --- events ----------------------------------------------------------------------------------


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


# --- models and uploads ----------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """A model card of ``GET /api/ai/models``, with its request schema."""

    id: str
    display_name: str | None = None
    summary: str | None = None
    description: str | None = None
    owned_by: str | None = None
    created: int | None = None
    model_type: str | None = None
    endpoint: str | None = None
    source_model: str | None = None
    parameter_count: int | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)
    developer: dict[str, Any] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    request_schema: dict[str, Any] = field(default_factory=dict, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        """Build from one model object."""
        return cls(
            id=str(data.get("id") or ""),
            display_name=data.get("display_name"),
            summary=data.get("summary"),
            description=data.get("description"),
            owned_by=data.get("owned_by"),
            created=data.get("created"),
            model_type=data.get("model_type"),
            endpoint=data.get("endpoint"),
            source_model=data.get("source_model"),
            parameter_count=data.get("parameter_count"),
            capabilities=dict(data.get("capabilities") or {}),
            developer=dict(data.get("developer") or {}),
            aliases=list(data.get("aliases") or []),
            request_schema=dict(
                data.get("json_request_schema") or data.get("request_schema") or {}
            ),
            raw=dict(data),
        )

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        """The request schema's properties, in the server's ``x-order``."""
        props = self.request_schema.get("properties") or {}
        return dict(sorted(props.items(), key=lambda item: item[1].get("x-order", 1_000)))

    @property
    def required(self) -> list[str]:
        """Names of the required request fields."""
        return list(self.request_schema.get("required") or [])


@dataclass(frozen=True)
class Upload:
    """An uploaded input image: pass :attr:`url` as an ``input_image``."""

    url: str
    id: str | None = None
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Upload:
        """Build from the upload endpoint's response."""
        return cls(
            url=str(data["url"]),
            id=data.get("id"),
            content_type=data.get("content_type"),
            width=data.get("width"),
            height=data.get("height"),
            bytes=data.get("bytes"),
            raw=dict(data),
        )

    def __str__(self) -> str:
        return self.url
