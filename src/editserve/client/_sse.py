"""A Server-Sent Events decoder (the WHATWG rules), fed one line at a time."""

from __future__ import annotations

from editserve.client._types import Event


class SSEDecoder:
    """Turns lines of a ``text/event-stream`` into :class:`Event` objects.

    ``last_event_id`` survives between events (and is what a reconnect sends as
    ``Last-Event-ID``); ``retry`` is the server's suggested reconnection delay in ms.
    """

    def __init__(self, last_event_id: str | None = None) -> None:
        self.last_event_id = last_event_id
        self.retry: int | None = None
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> Event | None:
        """Consume one line (without its line ending); return an event on a blank line."""
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment, e.g. ": keep-alive"
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry" and value.isdigit():
            self.retry = int(value)
        return None

    def _dispatch(self) -> Event | None:
        if not self._data and not self._event:
            return None
        event = Event.from_sse(self._event, "\n".join(self._data), self.last_event_id)
        self._event = ""
        self._data = []
        return event
