"""The work of ``editserve batch run``: upload each distinct picture once, submit what is
not done or in a batch already (one batch of at most 10,000 items at a time), follow the
batches with a progress bar, download each output as its batch ends, write the manifest.

Everything it learns goes to the state file first (see ``_batch_state``), so that a run
stopped anywhere — Ctrl-C, a lost connection, a killed terminal — resumes by running the
same command again: nothing done is redone and nothing submitted is submitted twice.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from editserve.client._batch_types import Batch
from editserve.client._exceptions import APIError, InvalidRequestError, NotFoundError
from editserve.client._image_types import sniff_format
from editserve.client.commands._batch_progress import BatchProgress
from editserve.client.commands._batch_state import (
    MANIFEST,
    Item,
    Plan,
    State,
    local_digests,
    wire_request,
)
from editserve.client.commands._common import err

if TYPE_CHECKING:
    from editserve.client._client import Client

__all__ = ["BatchRun", "Options", "Summary"]

MAX_ITEMS = 10_000  # the server's most per batch
RETRIED = ("failed", "cancelled", "expired")  # a re-run submits these again


@dataclass(frozen=True)
class Options:
    priority: int | None = None
    webhook: str | None = None
    poll: float = 2.0
    wait: bool = True
    zip: bool = False
    progress: bool = True


@dataclass
class Summary:
    items: int
    succeeded: int
    failed: int
    waiting: int
    batches: list[str]

    def as_json(self, out: Path) -> dict[str, Any]:
        return {"items": self.items, "succeeded": self.succeeded, "failed": self.failed,
                "waiting": self.waiting, "batches": self.batches,
                "manifest": str(out / MANIFEST)}  # fmt: skip


class BatchRun:
    def __init__(self, client: Client, plan: Plan, state: State, options: Options) -> None:
        self.client = client
        self.plan = plan
        self.state = state
        self.options = options
        self.by_key = {item.key: item for item in plan.items}
        self.display = BatchProgress(0, enabled=options.progress)

    def run(self) -> Summary:
        with self.display:
            if self.state.pending is not None:
                self._send_pending()  # a submission whose answer was lost: found again
            to_submit, attached = self._sorted()
            self.display.done_before = (
                len(self.plan.items)
                - len(to_submit)
                - sum(len(items) for items in attached.values())
            )
            if to_submit:
                self._upload(to_submit)
                for start in range(0, len(to_submit), MAX_ITEMS):
                    batch = self._submit(to_submit[start : start + MAX_ITEMS])
                    attached[batch.id] = to_submit[start : start + MAX_ITEMS]
            if self.options.wait:
                self._follow(list(attached))
        self._write_manifest()
        if self.options.wait and self.options.zip:
            for batch_id in self._batch_ids():
                self.client.batches.download_zip(batch_id, self.state.out / f"{batch_id}.zip")
        return self._summary()

    # --- what to do ----------------------------------------------------------------------
    def _sorted(self) -> tuple[list[Item], dict[str, list[Item]]]:
        """The items to submit, and the batches holding the others not done yet."""
        to_submit: list[Item] = []
        attached: dict[str, list[Item]] = {}
        for item in self.plan.items:
            if self.state.is_done(item):
                continue
            entry = self.state.entry(item)
            if entry.get("batch") and entry.get("status") not in RETRIED:
                attached.setdefault(entry["batch"], []).append(item)
            else:
                to_submit.append(item)
        return to_submit, attached

    def _upload(self, items: list[Item]) -> None:
        needed = list(dict.fromkeys(d for item in items for d in local_digests(item.request)))
        needed = [d for d in needed if d not in self.state.uploads]
        for number, content in enumerate(needed, 1):
            self.display.stage("uploading", number - 1, len(needed))
            upload = self.client.uploads.create(self.plan.local[content])
            self.state.uploads[content] = upload.url
            self.state.save(every=2.0)
        self.state.save()

    def _submit(self, items: list[Item]) -> Batch:
        self.display.stage(f"submitting {len(items)} items")
        requests = [
            {**wire_request(item.request, self.state.uploads), "custom_id": item.custom_id}
            for item in items
        ]
        self.state.pending = {
            "idempotency_key": f"es-batch-{uuid.uuid4()}",
            "keys": [item.key for item in items],
            "requests": requests,
            "priority": self.options.priority,
            "webhook": self.options.webhook,
        }
        self.state.save()
        return self._send_pending()

    def _send_pending(self) -> Batch:
        """POST the pending submission (again, on resume: the same Idempotency-Key and
        body answer the batch made the first time)."""
        pending = self.state.pending
        assert pending is not None
        try:
            batch = self.client.batches.create(
                requests=pending["requests"],
                priority=pending.get("priority"),
                webhook=pending.get("webhook"),
                idempotency_key=pending["idempotency_key"],
            )
        except APIError as exc:
            if exc.status is not None and exc.status < 500:  # refused: nothing was stored
                self.state.pending = None
                if isinstance(exc, InvalidRequestError) and "input_image" in exc.detail:
                    self.state.uploads.clear()  # an upload may have expired: upload again
                self.state.save()
            raise
        for index, key in enumerate(pending["keys"]):
            entry = self.state.items.setdefault(key, {})
            entry.update(batch=batch.id, index=index, status="queued", generation_id=None,
                         error=None)  # fmt: skip
        self.state.pending = None
        self.state.save()
        return batch

    # --- following and collecting --------------------------------------------------------
    def _follow(self, batch_ids: list[str]) -> None:
        remaining = list(batch_ids)
        latest: dict[str, Batch] = {}
        while remaining:
            for batch_id in list(remaining):
                try:
                    batch = self.client.batches.get(batch_id)
                except NotFoundError:
                    err(f"warning: batch {batch_id} is gone from the server; its items are "
                        "submitted again on the next run")  # fmt: skip
                    self._mark(batch_id, "expired")
                    remaining.remove(batch_id)
                    continue
                latest[batch_id] = batch
                if batch.done:
                    self.display.update(latest.values())
                    self._collect(batch)
                    remaining.remove(batch_id)
            self.display.update(latest.values())
            if remaining:
                time.sleep(self.options.poll)

    def _collect(self, batch: Batch) -> None:
        """Record each item's end and download its output (under each source's name)."""
        by_index = {
            entry.get("index"): key
            for key, entry in self.state.items.items()
            if entry.get("batch") == batch.id and key in self.by_key
        }
        for result in self.client.batches.results(batch):
            key = by_index.get(result.index)
            if key is None:
                continue
            entry = self.state.items[key]
            entry.update(generation_id=result.generation_id, status=result.status,
                         error=result.error)  # fmt: skip
            item = self.by_key[key]
            if result.succeeded and result.result_url and not self.state.is_done(item):
                try:
                    data, _ = self.client._download(result.result_url)
                except NotFoundError:
                    entry.update(status="expired", error="the output is gone from the server")
                    continue
                self.state.claim_outputs(key, self._write_outputs(item, data))
            self.state.save(every=2.0)
        self.state.save()

    def _write_outputs(self, item: Item, data: bytes) -> list[str]:
        ext = sniff_format(data) or "png"
        names = []
        for stem in item.names:
            name = f"{stem}.{ext}"
            partial = self.state.out / f".{name}.part"
            partial.write_bytes(data)
            partial.replace(self.state.out / name)
            names.append(name)
        return names

    def _mark(self, batch_id: str, status: str) -> None:
        for entry in self.state.items.values():
            if entry.get("batch") == batch_id and not entry.get("outputs"):
                entry["status"] = status
        self.state.save()

    # --- the results ---------------------------------------------------------------------
    def _lines(self) -> Iterator[dict[str, Any]]:
        for item in self.plan.items:
            entry = self.state.items.get(item.key) or {}
            outputs = entry.get("outputs") or []
            status = entry.get("status") or "not submitted"
            if self.state.is_done(item):
                status = "succeeded"
            for n, source in enumerate(item.sources):
                yield {
                    "source": source,
                    "custom_id": item.custom_id,
                    "batch_id": entry.get("batch"),
                    "generation_id": entry.get("generation_id"),
                    "status": status,
                    "output": outputs[n] if n < len(outputs) else None,
                    "error": entry.get("error"),
                }

    def _write_manifest(self) -> None:
        path = self.state.out / MANIFEST
        partial = path.with_name(f".{MANIFEST}.part")
        with partial.open("w", encoding="utf-8") as file:
            for line in self._lines():
                file.write(json.dumps(line, ensure_ascii=False) + "\n")
        partial.replace(path)

    def _batch_ids(self) -> list[str]:
        entries = (self.state.items.get(item.key) or {} for item in self.plan.items)
        return list(dict.fromkeys(e["batch"] for e in entries if e.get("batch")))

    def _summary(self) -> Summary:
        done = sum(1 for item in self.plan.items if self.state.is_done(item))
        statuses = [(self.state.items.get(i.key) or {}).get("status") for i in self.plan.items]
        failed = sum(1 for s in statuses if s in RETRIED)
        total = len(self.plan.items)
        return Summary(total, done, failed, total - done - failed, self._batch_ids())
