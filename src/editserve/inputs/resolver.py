"""Turning ``input_image`` references into stored, verified images.

A reference is one of:

* ``data:image/<type>;base64,<data>`` — decoded in place;
* ``<base_url>/api/ai/uploads/<upload_id>`` where ``<base_url>`` is one of this server's
  own base URLs — looked up with ``lookup_upload(upload_id, owner)`` (already stored);
* this cluster's own links on any host (:mod:`~editserve.inputs.own_links`): a signed
  ``/files/<key>`` URL (a result URL) read from blob storage, or an existing upload's URL,
  both owner-checked (another key's is a 404);
* any other ``http(s)://`` URL — downloaded by :class:`~editserve.net.fetch.Fetcher`.

Each image is then checked (:func:`~editserve.inputs.check.check_image`: a whole image
within the limits; its EXIF, XMP and text metadata stripped unless
``keep_input_metadata``) within the process's memory budget for inputs
(:class:`~editserve.inputs.budget.InputBudget`, ``input_memory_mb``: over it, after a brief
wait, 503 with Retry-After), and stored under ``inputs/<sha256>.<ext>``: the same bytes are
stored once, whoever sends them.
:meth:`InputResolver.fetch` and :meth:`InputResolver.store` are the two halves of
:meth:`InputResolver.resolve`, so a caller can refuse a request on what the inputs are
(their sizes) before anything is written. Every
failure is an :class:`~editserve.core.errors.InvalidParams` whose detail starts with the field,
``input_image[i]: ...``, and names the rule.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import httpx

from editserve.blobs.base import BlobStorage
from editserve.core.errors import InvalidParams, NotFound, PayloadTooLarge
from editserve.core.settings import Settings
from editserve.inputs.budget import InputBudget
from editserve.inputs.check import CheckedImage, check_image
from editserve.inputs.cost import estimate
from editserve.inputs.data_uri import decode_data_uri
from editserve.inputs.decode import ImageDecodeError, NeedsMemory
from editserve.inputs.mask import FIELD as MASK_FIELD
from editserve.inputs.mask import canonical_mask, upright_size
from editserve.inputs.own_links import UPLOAD_ID_RE, UPLOADS_PATH, OwnLinks, upload_id_in
from editserve.net.fetch import Fetcher, FetchError

FIELD = "input_image"
CONTROL_FIELD = "control.image"
# Control maps (models/annotators/cache_key.py names them maps/<sha256>.png): content
# derived from a picture and its settings, owned by no key. A signed link to one is the
# capability (GET /files serves it to whoever holds it), so it is read back as an input
# without an owner check.
MAPS_PREFIX = "maps/"

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class StoredInput:
    """An input image in blob storage, verified and identified by its content hash."""

    key: str  # inputs/<sha256>.<ext>
    sha256: str
    content_type: str
    format: str  # PNG | JPEG | WEBP | GIF | BMP
    width: int
    height: int
    size: int  # bytes
    # The output blob it was read from, when the input is one of our own result links
    # (outputs/<generation id>...): the new generation's parent (its lineage).
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["source"] is None:
            del data["source"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredInput:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


@dataclass(frozen=True)
class FetchedInput:
    """An input checked and identified, not stored yet (``data`` None: stored already)."""

    stored: StoredInput
    data: bytes | None
    field: str

    @property
    def size(self) -> tuple[int, int]:
        return self.stored.width, self.stored.height


LookupUpload = Callable[[str, str], Awaitable[StoredInput | None]]


class InputResolver:
    """Resolves, verifies and stores input images for one server."""

    def __init__(
        self,
        settings: Settings,
        storage: BlobStorage,
        lookup_upload: LookupUpload,
        *,
        fetcher: Fetcher | None = None,
        own_links: OwnLinks | None = None,
        budget: InputBudget | None = None,
    ) -> None:
        self.settings = settings
        # one per API process: every request's checks share it
        self.budget = budget or InputBudget.of_megabytes(settings.input_memory_mb)
        self.storage = storage
        self.lookup_upload = lookup_upload
        self.own_links = own_links
        self.fetcher = fetcher or Fetcher.from_settings(settings)
        self._key_locks: dict[str, anyio.Lock] = {}

    async def resolve(
        self, refs: Sequence[str], owner: str, *, base_urls: Sequence[str]
    ) -> list[StoredInput]:
        """Fetch, check and store every reference; return them in order."""
        return await self.store(await self.fetch(refs, owner, base_urls=base_urls))

    async def fetch(
        self,
        refs: Sequence[str],
        owner: str,
        *,
        base_urls: Sequence[str],
        mask: str | None = None,
        control: str | None = None,
        control_field: str = CONTROL_FIELD,
    ) -> list[FetchedInput]:
        """Resolve and check every reference (concurrently), in order; store nothing.

        ``base_urls`` are this server's own base URLs (the request's and
        ``settings.public_url``) used to recognise upload URLs. If several references
        fail, the error of the first failing one (by index) is raised. A masked edit's
        ``mask`` comes last, checked against the first picture and made canonical
        (inputs/mask.py). A ``control`` picture (the map's source, or the map) comes after
        the pictures and before the mask, its errors naming ``control_field``.
        """
        if isinstance(refs, str):
            refs = [refs]
        fields = [f"{FIELD}[{index}]" for index in range(len(refs))]
        if control is not None:
            refs, fields = [*refs, control], [*fields, control_field]
        if mask is not None:
            refs, fields = [*refs, mask], [*fields, MASK_FIELD]
        bases = [base for base in map(_origin_and_path, base_urls) if base is not None]
        results: list[FetchedInput | None] = [None] * len(refs)
        errors: list[BaseException | None] = [None] * len(refs)

        async with self.fetcher.client() as client:

            async def one(index: int, ref: str) -> None:
                try:
                    results[index] = await self._fetch_one(fields[index], ref, owner, bases, client)
                except Exception as exc:  # reported below, in index order
                    errors[index] = exc

            async with anyio.create_task_group() as group:
                for index, ref in enumerate(refs):
                    group.start_soon(one, index, ref)

        for error in errors:
            if error is not None:
                raise error
        fetched = [result for result in results if result is not None]
        if mask is not None:
            fetched[-1] = await self._canonical_mask(fetched[-1], fetched[0])
        return fetched

    async def _canonical_mask(self, mask: FetchedInput, picture: FetchedInput) -> FetchedInput:
        """The mask as stored: binary, Picture 1's size (inputs/mask.py), checked."""
        mask_data, picture_data = await self._bytes(mask), await self._bytes(picture)
        # the decoded mask, its binary copy and the PNG written: a few of its pixels' bytes
        weight = 3 * estimate(mask_data, max_pixels=self.settings.max_input_pixels)

        def make() -> bytes:
            return canonical_mask(mask_data, upright_size(picture_data))

        return await self._check(MASK_FIELD, await self.budget.run(weight, make))

    async def _bytes(self, item: FetchedInput) -> bytes:
        if item.data is not None:
            return item.data
        return await anyio.to_thread.run_sync(self.storage.get, item.stored.key)

    async def store(self, fetched: Sequence[FetchedInput]) -> list[StoredInput]:
        """Write what :meth:`fetch` checked (once per content hash); return them in order."""
        for item in fetched:
            if item.data is not None:
                await self._put(item.stored, item.data)
        return [item.stored for item in fetched]

    async def store_upload(self, data: bytes, *, field: str = "file") -> StoredInput:
        """Verify and store an uploaded image (``POST /api/ai/uploads``).

        Raises PayloadTooLarge (413) over ``max_input_bytes`` and InvalidParams (400,
        naming ``field``) for anything that is not an acceptable image.
        """
        if len(data) > self.settings.max_input_bytes:
            raise PayloadTooLarge(
                f"{field}: image is {len(data)} bytes, over the limit of "
                f"{self.settings.max_input_bytes} bytes (max_input_bytes)"
            )
        checked = await self._check(field, data)
        assert checked.data is not None
        await self._put(checked.stored, checked.data)
        return checked.stored

    # --- one reference -------------------------------------------------------------------
    async def _fetch_one(
        self,
        field: str,
        ref: str,
        owner: str,
        bases: list[tuple[str, str]],
        client: httpx.AsyncClient,
    ) -> FetchedInput:
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidParams(f"{field}: must be a non-empty string (URL or data URI)")
        ref = ref.strip()
        if ref[:5].lower() == "data:":
            # the copies decoding makes (the base64 text, the bytes) count in the budget
            decode = functools.partial(
                decode_data_uri, field, ref, max_bytes=self.settings.max_input_bytes
            )
            data = await self.budget.run(3 * len(ref), decode)
            return await self._check(field, data)
        scheme = urlsplit(ref).scheme.lower() if "://" in ref else ""
        if scheme not in ("http", "https"):
            raise InvalidParams(
                f"{field}: must be an http(s) URL, a data:image/...;base64, URI or an "
                f"upload URL (got {_shorten(ref)!r})"
            )
        upload_id = _upload_id(field, ref, bases)
        if upload_id is not None:
            own = await self._upload(field, upload_id, owner, on_own_base=True)
        else:
            own = await self._own_link(field, ref, owner)
        if own is not None:
            return own
        try:
            fetched = await self.fetcher.fetch(ref, client=client)
        except FetchError as exc:
            raise InvalidParams(f"{field}: {exc}") from None
        return await self._check(field, fetched.data)

    async def _upload(
        self, field: str, upload_id: str, owner: str, *, on_own_base: bool
    ) -> FetchedInput | None:
        """An upload of the caller; another key's is a 404; an unknown one is a 400 on
        our own base URL and None (not ours: fetch it) elsewhere."""
        stored = await self.lookup_upload(upload_id, owner)
        if stored is not None:
            return FetchedInput(stored=stored, data=None, field=field)
        if self.own_links is not None and await self.own_links.upload_owner(upload_id):
            raise NotFound(f"{field}: upload not found: {upload_id}")
        if on_own_base:
            raise InvalidParams(f"{field}: upload not found: {upload_id}")
        return None

    async def _own_link(self, field: str, ref: str, owner: str) -> FetchedInput | None:
        """A signed /files link or an upload URL of this cluster on any host, read from
        storage; None if the URL is not ours."""
        if self.own_links is None:
            return None
        key = self.own_links.file_key(ref)
        if key is None:
            upload_id = upload_id_in(ref)
            if upload_id is None:
                return None
            return await self._upload(field, upload_id, owner, on_own_base=False)
        if not key.startswith(MAPS_PREFIX) and not await self.own_links.owns(owner, key):
            raise NotFound(f"{field}: file not found: {key}")
        try:
            data = await anyio.to_thread.run_sync(self.storage.get, key)
        except NotFound:  # pruned meanwhile
            raise NotFound(f"{field}: file not found: {key}") from None
        limit = self.settings.max_input_bytes
        if len(data) > limit:
            raise InvalidParams(
                f"{field}: image is {len(data)} bytes, over the limit of {limit} bytes "
                "(max_input_bytes)"
            )
        checked = await self._check(field, data)
        return replace(checked, stored=replace(checked.stored, source=key))

    async def _check(self, field: str, data: bytes) -> FetchedInput:
        """Check ``data`` on a check thread, within the budget: first for what its header
        bytes say the check takes, again for what Pillow's reading of the header says
        where that is more (then without a second look)."""
        weight = estimate(data, max_pixels=self.settings.max_input_pixels)
        reserved: int | None = weight
        while True:
            try:
                checked = await self.budget.run(
                    weight, functools.partial(self._check_now, data, reserved)
                )
                break
            except NeedsMemory as more:
                weight, reserved = more.cost, None
            except ImageDecodeError as exc:
                raise InvalidParams(f"{field}: {exc}") from None
        stored = StoredInput(
            key=f"inputs/{checked.sha256}.{checked.info.extension}",
            sha256=checked.sha256,
            content_type=checked.info.content_type,
            format=checked.info.format,
            width=checked.info.width,
            height=checked.info.height,
            size=len(checked.data),
        )
        return FetchedInput(stored=stored, data=checked.data, field=field)

    def _check_now(self, data: bytes, reserved: int | None) -> CheckedImage:
        return check_image(
            data,
            max_pixels=self.settings.max_input_pixels,
            keep_metadata=self.settings.keep_input_metadata,
            reserved=reserved,
        )

    async def _put(self, stored: StoredInput, data: bytes) -> None:
        # One writer per key in this process (the same image twice in one request, or two
        # requests at once); across processes a duplicate put just rewrites equal bytes.
        lock = self._key_locks.setdefault(stored.key, anyio.Lock())
        try:
            async with lock:
                await anyio.to_thread.run_sync(
                    self._put_once, stored.key, data, stored.content_type
                )
        finally:
            if not lock.statistics().tasks_waiting:
                self._key_locks.pop(stored.key, None)

    def _put_once(self, key: str, data: bytes, content_type: str) -> None:
        # Content-addressed: an existing blob under this key holds these very bytes.
        if not self.storage.exists(key):
            self.storage.put(key, data, content_type)


def _origin_and_path(url: str) -> tuple[str, str] | None:
    """``https://Host:443/prefix/`` → ``("https://host:443", "/prefix")``; None if unusable."""
    try:
        parts = urlsplit((url or "").strip())
        if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
            return None
        return _origin(parts.scheme, parts.hostname, parts.port), parts.path.rstrip("/")
    except ValueError:
        return None


def _origin(scheme: str, host: str | None, port: int | None) -> str:
    scheme = scheme.lower()
    host = (host or "").lower().rstrip(".")
    port = port or _DEFAULT_PORTS.get(scheme, 0)
    return f"{scheme}://{host}:{port}"


def _upload_id(field: str, ref: str, bases: list[tuple[str, str]]) -> str | None:
    """The upload id if ``ref`` is one of our upload URLs, else None."""
    parts = urlsplit(ref)
    try:
        origin = _origin(parts.scheme, parts.hostname, parts.port)
    except ValueError:  # a port that is not a number: not ours
        return None
    for base_origin, base_path in bases:
        prefix = base_path + UPLOADS_PATH
        if origin == base_origin and parts.path.startswith(prefix):
            upload_id = parts.path[len(prefix) :].rstrip("/")
            if not UPLOAD_ID_RE.fullmatch(upload_id):
                raise InvalidParams(f"{field}: upload not found: malformed upload id")
            return upload_id
    return None


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = [
    "CONTROL_FIELD",
    "MAPS_PREFIX",
    "FetchedInput",
    "InputResolver",
    "LookupUpload",
    "StoredInput",
]
