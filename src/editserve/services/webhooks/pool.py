"""The deliveries one node has in flight, each a task of its own, and the caps they are held
to: at most ``webhook_concurrency`` at once, ``webhook_per_owner`` for one key,
``webhook_per_host`` to one host, and one at a time per generation (its events arrive in
the order they were written).

A receiver that answers slowly or never holds at most its host's share of the slots, each
for at most one attempt's deadline, so it cannot hold up another key's deliveries: the
claim leaves out what the pool could not start now (``claim_args``), and every slot that
frees lets the dispatcher claim again at once.

Hosts are compared as their URLs spell them, lowercased, without user info or port (and a
trailing dot); the claim matches them by URL prefix (``url_prefixes``). A host spelled two
ways (a name and its address) is two hosts here: the per-owner and node-wide caps still
hold.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from editserve.store.rows import DeliveryRow

log = logging.getLogger("editserve.services.webhooks")

_SCHEMES = ("http", "https")
_AFTER_HOST = "/?#:"  # what may follow the host in a URL (the claim appends a "/")


def host_of(url: str) -> str:
    """The host a webhook URL names, lowercased, without user info, port or trailing dot
    ("" if it names none)."""
    try:
        netloc = urlsplit(url.strip()).netloc
    except ValueError:
        return ""
    host = netloc.rpartition("@")[2]
    if host.startswith("["):  # an IPv6 literal: [::1]:8080
        end = host.find("]")
        host = host[: end + 1] if end >= 0 else host
    else:
        host = host.partition(":")[0]
    return host.rstrip(".").lower()


def url_prefixes(host: str) -> list[str]:
    """Every way a URL to ``host`` starts, lowercased with "/" appended (how the claim
    compares them): http and https, with or without a trailing dot, then a path, query,
    fragment or port."""
    return [
        f"{scheme}://{name}{after}"
        for scheme in _SCHEMES
        for name in (host, host + ".")
        for after in _AFTER_HOST
    ]


@dataclass(frozen=True)
class Busy:
    """The arguments of a claim that leave out what the pool could not start now."""

    owners: list[str]
    generations: list[str]
    prefixes: list[str]


@dataclass(frozen=True)
class Flight:
    """One delivery being sent."""

    delivery_id: str
    owner: str
    host: str
    generation_id: str


class DeliveryPool:
    """The deliveries in flight, as tasks; ``changed`` is set whenever one ends."""

    def __init__(self, concurrency: int, per_owner: int, per_host: int) -> None:
        self.concurrency = concurrency
        self.per_owner = per_owner
        self.per_host = per_host
        self.changed = asyncio.Event()
        self._flights: dict[asyncio.Task[None], Flight] = {}
        self._owners: Counter[str] = Counter()
        self._hosts: Counter[str] = Counter()
        self._generations: set[str] = set()

    def __len__(self) -> int:
        return len(self._flights)

    def free(self) -> int:
        """Slots left under the node-wide cap."""
        return self.concurrency - len(self._flights)

    def busy(self) -> Busy:
        """What a claim must leave out: keys and hosts at their cap, generations in flight."""
        hosts = sorted(host for host, n in self._hosts.items() if n >= self.per_host)
        return Busy(
            owners=sorted(owner for owner, n in self._owners.items() if n >= self.per_owner),
            generations=sorted(self._generations),
            prefixes=[prefix for host in hosts for prefix in url_prefixes(host)],
        )

    def admits(self, row: DeliveryRow) -> bool:
        """Whether ``row`` may start now (a claim may still hand out one that may not: a
        host spelled another way, or two rows of one key or generation in one claim)."""
        return (
            self.free() > 0
            and self._owners[row.owner] < self.per_owner
            and self._hosts[host_of(row.url)] < self.per_host
            and row.generation_id not in self._generations
        )

    def start(self, row: DeliveryRow, send: Coroutine[Any, Any, None]) -> None:
        """Run ``send`` as a task, counted against ``row``'s key, host and generation."""
        flight = Flight(row.id, row.owner, host_of(row.url), row.generation_id)
        task = asyncio.create_task(send, name=f"webhook {row.id}")
        self._flights[task] = flight
        self._owners[flight.owner] += 1
        self._hosts[flight.host] += 1
        self._generations.add(flight.generation_id)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        flight = self._flights.pop(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhooks: sending %s failed", flight.delivery_id, exc_info=task.exception())
        self._owners[flight.owner] -= 1
        if not self._owners[flight.owner]:
            del self._owners[flight.owner]
        self._hosts[flight.host] -= 1
        if not self._hosts[flight.host]:
            del self._hosts[flight.host]
        self._generations.discard(flight.generation_id)
        self.changed.set()

    async def cancel_all(self) -> list[Flight]:
        """Cancel what is in flight; the flights that had not ended (to give back)."""
        flights = [(task, flight) for task, flight in self._flights.items() if not task.done()]
        for task, _flight in flights:
            task.cancel()
        await asyncio.gather(*(task for task, _flight in flights), return_exceptions=True)
        return [flight for task, flight in flights if task.cancelled()]
