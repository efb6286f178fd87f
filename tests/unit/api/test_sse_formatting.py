"""SSE lines are formatted once per event and base URL, however many streams send them."""

from __future__ import annotations

import json

from editserve.api.routes.events import FormattedEvents, format_event
from editserve.domain.record import Event


def completed(event_id: int) -> Event:
    return Event(
        id=event_id,
        owner="key_a",
        generation_id=f"gen-{event_id}",
        type="media_generation_completed",
        data={
            "generation_id": f"gen-{event_id}",
            "status": "succeeded",
            "media_type": "image",
            "model": "m",
            "result_key": "k.png",
        },
    )


def test_a_thousand_streams_share_one_serialisation_per_event() -> None:
    signed: list[str] = []

    def url_for(key: str) -> str:
        signed.append(key)
        return f"https://a.example/files/{key}?signature=x"

    cache = FormattedEvents()
    lines = {cache.get(completed(7), "https://a.example", url_for) for _ in range(1000)}
    assert lines == {format_event(completed(7), url_for)}
    assert len(signed) == 2  # the cache's one, and the comparison's one
    data = json.loads(lines.pop().split("data: ", 1)[1])
    assert data["url"] == "https://a.example/files/k.png?signature=x"


def test_another_base_url_gets_its_own_links_and_old_events_fall_out() -> None:
    cache = FormattedEvents(size=2)
    on_a = cache.get(completed(1), "https://a", lambda key: f"https://a/{key}")
    on_b = cache.get(completed(1), "https://b", lambda key: f"https://b/{key}")
    assert "https://a/k.png" in on_a and "https://b/k.png" in on_b
    cache.get(completed(2), "https://a", lambda key: f"https://a/{key}")  # evicts (1, a)
    again = cache.get(completed(1), "https://a", lambda key: f"https://a2/{key}")
    assert "https://a2/k.png" in again  # formatted anew after eviction
