"""Output images (:class:`Image`) and the answer of the sync edit (:class:`EditResult`).

Both can fetch their image through the client that made them (``read_bytes`` / ``save`` /
``to_pil`` with a :class:`~editserve.client.Client`; ``aread_bytes`` / ``asave`` /
``ato_pil`` with an :class:`~editserve.client.AsyncClient`).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import os

    import PIL.Image

__all__ = ["EditResult", "Image", "content_type_for", "sniff_format"]

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

    @classmethod
    def from_generate_json(cls, data: dict[str, Any], *, client: Any = None) -> EditResult:
        """Build from the generate endpoint's response: one image per generation, each
        with its own generation id and seed (the result's are the first's)."""
        gens = [g for g in data.get("generations") or [] if isinstance(g, dict)]
        images = [
            Image.from_json(
                item,
                client=client,
                generation_id=gens[index].get("generation_id") if index < len(gens) else None,
                seed=gens[index].get("seed") if index < len(gens) else None,
            )
            for index, item in enumerate(data.get("images") or [])
            if isinstance(item, dict)
        ]
        first = gens[0] if gens else {}
        return cls(
            model=str(data.get("model") or ""),
            created=int(data.get("created") or 0),
            images=images,
            generation_id=first.get("generation_id"),
            seed=first.get("seed"),
            width=first.get("width"),
            height=first.get("height"),
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
