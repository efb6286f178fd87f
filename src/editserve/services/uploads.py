"""Uploads: images stored ahead of a request, then named by URL as ``input_image``."""

from __future__ import annotations

import dataclasses
import secrets
import time

from anyio import to_thread
from pydantic import BaseModel, Field

from editserve.blobs.base import BlobStorage
from editserve.core.errors import NotFound
from editserve.inputs.own_links import UPLOADS_PATH
from editserve.inputs.resolver import InputResolver, LookupUpload, StoredInput
from editserve.services.wire import UrlFor
from editserve.store import UploadStore
from editserve.store.rows import UploadRow


class UploadResponse(BaseModel):
    id: str
    url: str = Field(description="Use as input_image (with this key's Bearer header).")
    preview_url: str = Field(description="A signed link that works without the header.")
    content_type: str
    format: str
    width: int
    height: int
    bytes: int
    sha256: str


class UploadService:
    def __init__(self, store: UploadStore, storage: BlobStorage, inputs: InputResolver) -> None:
        self.store = store
        self.storage = storage
        self.inputs = inputs

    async def create(
        self, owner: str, data: bytes, *, base_url: str, url_for: UrlFor
    ) -> UploadResponse:
        """Check and store one image; its URL works as input_image for this key."""
        stored = await self.inputs.store_upload(data)
        row = UploadRow(
            id="upl_" + secrets.token_urlsafe(16),
            owner=owner,
            created_at=time.time(),
            **stored.to_dict(),
        )
        await to_thread.run_sync(self.store.insert_upload, row)
        return UploadResponse(
            id=row.id,
            url=f"{base_url}{UPLOADS_PATH}{row.id}",
            preview_url=url_for(row.key),
            content_type=row.content_type,
            format=row.format,
            width=row.width,
            height=row.height,
            bytes=row.size,
            sha256=row.sha256,
        )

    async def content(self, owner: str, upload_id: str) -> tuple[bytes, str]:
        """The uploaded bytes and their media type (404 for another key's upload)."""
        row = await to_thread.run_sync(self.store.get_upload, upload_id, owner)
        if row is None:
            raise NotFound(f"Upload not found: {upload_id}")
        data = await to_thread.run_sync(self.storage.get, row.key)
        return data, row.content_type


def upload_lookup(store: UploadStore) -> LookupUpload:
    """The resolver's way to find an upload of a key, as a stored input."""

    async def lookup(upload_id: str, owner: str) -> StoredInput | None:
        row = await to_thread.run_sync(store.get_upload, upload_id, owner)
        if row is None:
            return None
        return StoredInput.from_dict(dataclasses.asdict(row))

    return lookup
