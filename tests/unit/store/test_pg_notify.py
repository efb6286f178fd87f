"""Event and work hints: each key's newest event id, in payloads PostgreSQL accepts, sent
at a bounded rate (the first at once, the ones that come meanwhile together)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from editserve.store.postgres.notify import (
    MAX_PAYLOAD,
    Notifier,
    event_payloads,
    parse_event_payload,
)

QUERIES = {"notify_events": "EVENTS", "notify_work": "WORK"}


class Recorder:
    """Stands in for a pool connection: records what would be sent, and when."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, str, Any]] = []
        self.lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Recorder]:
        yield self

    def execute(self, statement: str, params: Any = None) -> None:
        with self.lock:
            self.sent.append((time.monotonic(), statement, params))

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 5
        while len(self.sent) < count and time.monotonic() < deadline:
            time.sleep(0.005)


def test_payloads_carry_each_keys_newest_id_and_stay_under_the_limit() -> None:
    newest = {f"key_{index:012x}": 10_000 + index for index in range(1000)}
    payloads = event_payloads(newest)
    assert len(payloads) > 1
    assert all(len(payload) <= MAX_PAYLOAD for payload in payloads)
    parsed = [pair for payload in payloads for pair in parse_event_payload(payload)]
    assert dict(parsed) == newest


def test_a_malformed_hint_is_skipped() -> None:
    assert parse_event_payload("7:key_a junk :key_b 8: 9:key_c") == [("key_a", 7), ("key_c", 9)]


def test_the_first_hint_goes_at_once_and_a_burst_goes_together() -> None:
    recorder = Recorder()
    notifier = Notifier(recorder.connection, QUERIES, interval=0.2)
    try:
        started = time.monotonic()
        notifier.events([("key_a", 1)])
        recorder.wait_for(1)
        assert recorder.sent[0][0] - started < 0.15  # not held back
        for event_id in range(2, 102):
            notifier.events([("key_a", event_id), ("key_b", 1000 + event_id)])
        notifier.work()
        recorder.wait_for(3)
        time.sleep(0.3)
        later = recorder.sent[1:]
        events = [params["hints"] for _, statement, params in later if statement == "EVENTS"]
        assert len(events) == 1  # the whole burst: one NOTIFY, each key's newest id
        assert dict(parse_event_payload(events[0][0])) == {"key_a": 101, "key_b": 1101}
        assert [statement for _, statement, _ in later].count("WORK") == 1
        assert later[0][0] - recorder.sent[0][0] >= 0.19  # no sooner than the interval
    finally:
        notifier.stop()


def test_stop_sends_what_is_pending() -> None:
    recorder = Recorder()
    notifier = Notifier(recorder.connection, QUERIES, interval=0.2)
    notifier.events([("key_a", 1)])
    recorder.wait_for(1)
    notifier.events([("key_a", 2)])
    notifier.stop()
    assert [params["hints"] for _, _, params in recorder.sent] == [["1:key_a"], ["2:key_a"]]
