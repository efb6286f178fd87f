"""Per-key request rates: a token bucket per API key, in each API process.

A key may make ``request_burst_per_key`` requests at once and ``request_rate_per_key`` a
second sustained (0: no limit); over that it gets 429 ``rate_limited`` with Retry-After
(the seconds until its next request would pass). Only authenticated requests are counted,
and they are counted by the key's id: the bucket is charged where a request's key is
recognised (``MeteredKeyRing.authenticate``, which ``require_key`` calls for every
protected route), so a request without a key, or with a wrong one, never makes a bucket
(a flood of made-up keys cannot grow this memory) and is left to the 401.

Memory: a bucket idle long enough to have refilled is the same as none and is dropped
(the least recently used first, checked at each request), and at most ``MAX_BUCKETS`` are
kept in any case.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from editserve.core.errors import RateLimited
from editserve.core.limits import NodeLimits
from editserve.services.keys import Caller, KeyRing
from editserve.store import KeyStore

MAX_BUCKETS = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One token bucket per key: ``burst`` tokens, refilled at ``rate`` a second. Safe to
    use from several threads (authentication runs in the thread pool)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_buckets: int = MAX_BUCKETS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs a rate above 0 and a burst of at least 1")
        self.rate = rate
        self.burst = burst
        self.max_buckets = max_buckets
        self._clock = clock
        self._refill_seconds = burst / rate  # an empty bucket is full again after this
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take one token of ``key``'s bucket: 0.0 if there was one, else the seconds until
        there will be (nothing is taken then)."""
        with self._lock:
            now = self._clock()
            self._forget_idle(now)
            bucket = self._buckets.pop(key, None)
            if bucket is None:
                bucket = _Bucket(float(self.burst), now)
            else:
                refill = (now - bucket.updated) * self.rate
                bucket.tokens = min(float(self.burst), bucket.tokens + refill)
                bucket.updated = now
            self._buckets[key] = bucket  # most recently used
            if len(self._buckets) > self.max_buckets:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        while self._buckets:
            oldest = next(iter(self._buckets.values()))
            if now - oldest.updated < self._refill_seconds:
                return
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)


class MeteredKeyRing(KeyRing):
    """The key ring that charges each request of a recognised key to that key's bucket;
    a key over its rate raises RateLimited (429) instead of being let in."""

    def __init__(self, store: KeyStore, buckets: TokenBuckets) -> None:
        super().__init__(store)
        self.buckets = buckets

    def authenticate(self, secret: str) -> Caller | None:
        caller = super().authenticate(secret)
        if caller is not None:
            wait = self.buckets.take(caller.id)
            if wait > 0:
                raise RateLimited(
                    f"this key made more than {self.buckets.burst} requests at once or "
                    f"{self.buckets.rate:g} a second on this node; retry after "
                    f"{wait:.2f} s",
                    retry_after=max(1, math.ceil(wait)),
                )
        return caller


def key_ring(limits: NodeLimits, store: KeyStore) -> KeyRing:
    """The API process's key ring: metered unless request_rate_per_key is 0."""
    if limits.request_rate_per_key <= 0:
        return KeyRing(store)
    buckets = TokenBuckets(limits.request_rate_per_key, limits.request_burst_per_key)
    return MeteredKeyRing(store, buckets)


__all__ = ["MAX_BUCKETS", "MeteredKeyRing", "TokenBuckets", "key_ring"]
