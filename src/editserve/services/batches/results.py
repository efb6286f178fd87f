"""A batch's results: the manifest (JSON Lines, one per item in order) and a zip of every
item's output with the manifest. Both are streamed a page of items at a time, one output
at a time, so a 10,000-item batch costs an API node no more memory than a few pictures."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from typing import Any, cast

from editserve.blobs.base import BlobStorage
from editserve.blobs.links import UrlFor
from editserve.core.errors import NotFound
from editserve.domain.record import Generation, Status
from editserve.store import BatchStore
from editserve.store.batches import BatchRow

PAGE = 500
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def items(store: BatchStore, batch: BatchRow) -> Iterator[Generation]:
    after = -1
    while True:
        page = store.batch_items(batch.id, after, PAGE)
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].batch_item if page[-1].batch_item is not None else after + PAGE


def manifest_line(gen: Generation, url_for: UrlFor, file: str | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {
        "index": gen.batch_item,
        "custom_id": gen.custom_id,
        "generation_id": gen.id,
        "status": gen.status.value,
        "result_url": url_for(gen.result_key) if gen.result_key else None,
        "error": gen.error_message,
    }
    if gen.layer_keys:
        line["layer_urls"] = [url_for(key) for key in gen.layer_keys]
    if file is not None:
        line["file"] = file
    return line


def manifest(store: BatchStore, batch: BatchRow, url_for: UrlFor) -> Iterator[bytes]:
    for gen in items(store, batch):
        yield _jsonl(manifest_line(gen, url_for))


def zip_stream(
    store: BatchStore, storage: BlobStorage, batch: BatchRow, url_for: UrlFor
) -> Iterator[bytes]:
    """The zip, written as it is sent: each succeeded item's outputs under
    ``<index>-<custom_id or generation id>[-layer-n].<ext>``, then manifest.jsonl."""
    sink = _Chunks()
    # the manifest goes last (it names each file): kept on disk past 1 MB, not in memory
    lines = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 - closed below
    with lines, zipfile.ZipFile(cast(Any, sink), "w", compression=zipfile.ZIP_STORED) as archive:
        for gen in items(store, batch):
            names = []
            if gen.status is Status.SUCCEEDED:
                for key in gen.output_keys:
                    name = _file_name(gen, key)
                    try:
                        data = storage.get(key)
                    except NotFound:  # pruned meanwhile: the manifest says so
                        continue
                    archive.writestr(name, data)
                    names.append(name)
                    yield sink.take()
            lines.write(_jsonl(manifest_line(gen, url_for, names[0] if names else None)))
        lines.seek(0)
        with archive.open("manifest.jsonl", "w") as manifest_file:
            shutil.copyfileobj(lines, manifest_file, 256 * 1024)
            yield sink.take()
    yield sink.take()


def _file_name(gen: Generation, key: str) -> str:
    label = _UNSAFE.sub("_", gen.custom_id)[:80] if gen.custom_id else gen.id
    stem, _, ext = key.rpartition("/")[2].rpartition(".")
    layer = stem.rpartition("-layer-")[2] if "-layer-" in stem else None
    index = gen.batch_item if gen.batch_item is not None else 0
    return f"{index:05d}-{label}{'-layer-' + layer if layer else ''}.{ext}"


def _jsonl(line: dict[str, Any]) -> bytes:
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"


class _Chunks:
    """A write-only, non-seekable file for zipfile: what was written since the last take."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


__all__ = ["manifest", "manifest_line", "zip_stream"]
