"""Open event streams per key (services/events/streams.py): a slot per stream, at most
max_event_streams_per_key per key on a process, each given back once."""

from __future__ import annotations

from pathlib import Path

import pytest

from editserve.core.errors import RateLimited
from editserve.core.settings import Settings
from editserve.services.events.feed import EventFeed
from editserve.services.events.streams import STREAM_RETRY_AFTER_SECONDS, StreamSlots
from editserve.store import open_store

pytestmark = pytest.mark.timeout(30)


def test_one_stream_over_the_cap_is_429_with_retry_after() -> None:
    slots = StreamSlots(per_key=3)
    held = [slots.take("key_a") for _ in range(3)]
    with pytest.raises(RateLimited) as refused:
        slots.take("key_a")
    assert refused.value.status_code == 429
    assert refused.value.type == "rate_limited"
    assert refused.value.headers == {"Retry-After": str(STREAM_RETRY_AFTER_SECONDS)}
    assert "3 event streams open" in refused.value.detail
    assert slots.take("key_b").owner == "key_b"  # another key has slots of its own
    held[0].release()
    assert slots.open_streams("key_a") == 2
    slots.take("key_a")  # the slot given back is taken again
    assert slots.open_streams("key_a") == 3


def test_a_slot_is_given_back_once_however_often_released() -> None:
    slots = StreamSlots(per_key=2)
    first, second = slots.take("k"), slots.take("k")
    for _ in range(5):
        first.release()
    assert slots.open_streams("k") == 1
    second.release()
    assert slots.open_streams("k") == 0
    assert slots._open == {}  # keys without open streams hold no memory


def test_the_feed_counts_streams_with_the_setting(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, max_event_streams_per_key=2)
    store = open_store(settings)
    try:
        feed = EventFeed(store, settings)
        one, _ = feed.open_stream("k"), feed.open_stream("k")
        with pytest.raises(RateLimited):
            feed.open_stream("k")
        one.release()
        feed.open_stream("k")
    finally:
        store.close()
