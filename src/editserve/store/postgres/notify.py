"""NOTIFY the hints of committed writes, off the writer's path, at a bounded rate.

Two kinds of hint (store/postgres/listen.py listens): ``editserve_events`` names the newest
committed event id of each key (``"<id>:<owner> <id>:<owner> ..."``), and
``editserve_work`` says jobs were enqueued. A hint is only a hint: readers and idle workers
poll as well, so a lost hint costs latency, never data.

A daemon thread sends them after the commit (a NOTIFY inside the writing transaction would
make every such commit wait on the notification queue's lock, WAL flush included). It
sends at most once per ``HINT_INTERVAL``: the first hint after a quiet moment goes out at
once, and those that come meanwhile go together in one NOTIFY, each key's newest id only.
A busy worker then sends one NOTIFY per interval instead of one per event (on 2 cores,
one per event cost ~15% of the queue's claim + finish rate), and an SSE reader waits at
most that long more.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import psycopg

log = logging.getLogger("editserve.store")

HINT_INTERVAL = 0.01  # seconds between two NOTIFYs of one process, at most
MAX_PAYLOAD = 7000  # characters per NOTIFY (PostgreSQL refuses 8000 bytes and more)
_WORK = ""  # the queue item of a work hint
_STOP = None  # the queue item that ends the thread


def event_payloads(newest: dict[str, int]) -> list[str]:
    """``{owner: newest event id}`` as NOTIFY payloads of at most MAX_PAYLOAD characters."""
    payloads: list[str] = []
    current: list[str] = []
    size = 0
    for owner, event_id in newest.items():
        hint = f"{event_id}:{owner}"
        if current and size + 1 + len(hint) > MAX_PAYLOAD:
            payloads.append(" ".join(current))
            current, size = [], 0
        current.append(hint)
        size += len(hint) + (1 if size else 0)
    if current:
        payloads.append(" ".join(current))
    return payloads


def parse_event_payload(payload: str) -> list[tuple[str, int]]:
    """The (owner, event id) pairs of an ``editserve_events`` payload; malformed parts are
    skipped (a hint is only a hint)."""
    pairs: list[tuple[str, int]] = []
    for hint in payload.split():
        event_id, _, owner = hint.partition(":")
        if owner and event_id.isdigit():
            pairs.append((owner, int(event_id)))
    return pairs


class Notifier:
    """Sends hints in a daemon thread through ``connection()`` (a pool's connection)."""

    def __init__(
        self,
        connection: Callable[[], AbstractContextManager[Any]],
        queries: dict[str, str],
        interval: float = HINT_INTERVAL,
    ) -> None:
        self._connection = connection
        self._notify_events = queries["notify_events"]
        self._notify_work = queries["notify_work"]
        self._interval = interval
        self._queue: queue.SimpleQueue[tuple[str, int] | str | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="editserve-notify", daemon=True)
        self._thread.start()

    def events(self, written: Iterable[tuple[str, int]]) -> None:
        """These (owner, event id) events are committed."""
        for owner, event_id in written:
            self._queue.put((owner, event_id))

    def work(self) -> None:
        """Jobs were enqueued and committed."""
        self._queue.put(_WORK)

    def stop(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        sent_at = 0.0
        while (first := self._queue.get()) is not _STOP:
            pause = sent_at + self._interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            items = [first, *self._drain()]
            stopping = items[-1] is _STOP
            self._send([item for item in items if item is not _STOP])
            sent_at = time.monotonic()
            if stopping:
                return

    def _drain(self) -> Iterator[tuple[str, int] | str | None]:
        while not self._queue.empty():
            item = self._queue.get()
            yield item
            if item is _STOP:
                return

    def _send(self, items: list[tuple[str, int] | str | None]) -> None:
        newest: dict[str, int] = {}
        work = False
        for item in items:
            if isinstance(item, tuple):
                owner, event_id = item
                newest[owner] = max(newest.get(owner, 0), event_id)
            else:
                work = True
        try:
            with self._connection() as conn:
                if newest:
                    conn.execute(self._notify_events, {"hints": event_payloads(newest)})
                if work:
                    conn.execute(self._notify_work)
        except psycopg.Error as exc:  # only hints: readers and workers poll anyway
            log.warning("store: NOTIFY failed (%s); readers fall back to polling", exc)


__all__ = ["HINT_INTERVAL", "Notifier", "event_payloads", "parse_event_payload"]
