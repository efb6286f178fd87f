"""Open event streams per key, counted in each API process.

A stream takes a slot of its key when it opens and gives it back when it closes, however
it closes (the client went away, the server stops, the stream failed). One more stream
than ``max_event_streams_per_key`` is refused with 429 ``rate_limited`` and Retry-After.
Only keys with an open stream are held in memory.
"""

from __future__ import annotations

import threading

from editserve.core.errors import RateLimited

# What a refused stream is told to wait: a slot frees when one of the key's streams closes,
# which nobody can predict; a client that reconnects in a loop waits this long.
STREAM_RETRY_AFTER_SECONDS = 5


class StreamSlot:
    """One open stream's slot; ``release`` gives it back (once, however often called)."""

    __slots__ = ("_released", "_slots", "owner")

    def __init__(self, slots: StreamSlots, owner: str) -> None:
        self._slots = slots
        self.owner = owner
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._slots._give_back(self.owner)


class StreamSlots:
    """The open streams of each key on this process, at most ``per_key`` each."""

    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, owner: str) -> StreamSlot:
        """A slot for a new stream of ``owner``; RateLimited (429) if it has all its own."""
        with self._lock:
            count = self._open.get(owner, 0)
            if count >= self.per_key:
                raise RateLimited(
                    f"this key has {count} event streams open on this node, the most it may "
                    "have (max_event_streams_per_key); close one, or follow them all on one "
                    "stream: every event of the key comes on each",
                    retry_after=STREAM_RETRY_AFTER_SECONDS,
                )
            self._open[owner] = count + 1
        return StreamSlot(self, owner)

    def open_streams(self, owner: str) -> int:
        with self._lock:
            return self._open.get(owner, 0)

    def _give_back(self, owner: str) -> None:
        with self._lock:
            count = self._open.get(owner, 0) - 1
            if count > 0:
                self._open[owner] = count
            else:
                self._open.pop(owner, None)


__all__ = ["STREAM_RETRY_AFTER_SECONDS", "StreamSlot", "StreamSlots"]
