"""The periodic prune of an API node: with EDITSERVE_RETENTION_DAYS set, shortly after
start and then every PRUNE_EVERY_SECONDS, in a thread, under the store's prune lease (so
of several API nodes one prunes at a time; the others find it held and skip that round)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from anyio import to_thread

from editserve.blobs.base import BlobStorage
from editserve.core.settings import Settings
from editserve.services.retention.prune import Pruner
from editserve.store import PruneStore

log = logging.getLogger("editserve.services.retention")

FIRST_PRUNE_AFTER_SECONDS = 60.0
PRUNE_EVERY_SECONDS = 3600.0


async def run_retention(
    settings: Settings,
    store: PruneStore,
    storage: BlobStorage,
    stop: asyncio.Event,
    *,
    first_after: float = FIRST_PRUNE_AFTER_SECONDS,
    every: float = PRUNE_EVERY_SECONDS,
) -> None:
    """Prune until ``stop`` is set (returns at once when retention is off)."""
    days = settings.retention_days
    if days is None:
        return
    halt = threading.Event()
    pruner = Pruner(store, storage, stop=halt)
    delay = first_after
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            break
        delay = every
        run = asyncio.ensure_future(to_thread.run_sync(pruner.run, days))
        waiter = asyncio.ensure_future(stop.wait())
        await asyncio.wait({run, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            halt.set()  # the run stops before its next batch
        waiter.cancel()
        try:
            report = await run
        except Exception:  # noqa: BLE001 - the next round tries again
            log.exception("retention: prune failed")
            continue
        if not report.ran:
            log.info("retention: another node is pruning (%s); skipped", report.holder)


__all__ = ["FIRST_PRUNE_AFTER_SECONDS", "PRUNE_EVERY_SECONDS", "run_retention"]
