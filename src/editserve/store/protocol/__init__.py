"""What the API, the workers and the CLI may ask of the job store, role by role.

One implementation, :class:`~editserve.store.core.QueueStore`, runs over two SQL dialects
(``SqliteStore`` for one machine, ``PostgresStore`` for API nodes and workers on many
machines); tests/contract holds both to these protocols.

Each *role* protocol is what one kind of caller asks (each method is declared in exactly
one role). A caller takes the narrowest one it uses, or one of the combinations below
when it uses several (a Protocol inheriting roles is their intersection); only the places
that hold the whole store take :class:`Store`, every role together: the app's wiring
(api/app.py), a node's start-up (services/cluster/node.py) and the commands.

    records.py  RecordStore, EventStore, UploadStore, OutboxStore (the API's services)
    workers.py  JobQueue, WorkerRegistry, StatsStore (workers, supervisor, fleet reads)
    batches.py  BatchStore (batches and their items)
    admin.py    KeyStore, UsageStore, ClusterStore, RetentionStore (keys, usage, the
                cluster record, prune)
    here        the combinations (WorkerStore, GenerationStore, ...) and Store

Every method is synchronous (but ``wait_for_events``) and safe to call from several
threads. Methods that change a generation's state are atomic and refuse (return
False/None, or leave the generation out of their result) when the caller no longer holds
the job. Every event is written in the same transaction as the state change it reports.
"""

from __future__ import annotations

from typing import Protocol

from editserve.store.protocol.admin import ClusterStore, KeyStore, RetentionStore, UsageStore
from editserve.store.protocol.batches import BatchStore
from editserve.store.protocol.records import (
    EventStore,
    OutboxStore,
    QueueFull,
    RecordStore,
    UploadStore,
)
from editserve.store.protocol.workers import JobQueue, StatsStore, WorkerRegistry

# --- roles together, for the callers that use several ----------------------------------


class WorkerStore(JobQueue, WorkerRegistry, Protocol):
    """A worker process (worker/loop.py): its jobs, and its own row and start-up stages."""


class ViewStore(RecordStore, WorkerRegistry, Protocol):
    """Generation views (services/generations/views.py): records, queue positions, ETAs
    (with the live workers), webhook deliveries."""


class FeedStore(RecordStore, EventStore, Protocol):
    """The SSE feed (services/events/feed.py): events, and the generation they are about."""


class GenerationStore(ViewStore, FeedStore, KeyStore, UsageStore, BatchStore, Protocol):
    """The generation service (services/generations/service.py): its views, its feed, the
    key's default webhook and quotas at enqueue (with its usage)."""


class DispatchStore(OutboxStore, ViewStore, BatchStore, Protocol):
    """The webhook dispatcher (services/webhooks/dispatcher.py): the outbox, and the
    generation view each delivery carries."""


class PruneStore(RetentionStore, RecordStore, Protocol):
    """A prune (services/retention: Pruner, its dry run, the periodic one): retention, and
    the webhook deliveries a dry run counts."""


class MetricsStore(StatsStore, WorkerRegistry, RetentionStore, UsageStore, Protocol):
    """/metrics (services/metrics.py): fleet counts, live workers, retention totals, usage."""


# --- the whole store ---------------------------------------------------------------------


class Store(
    KeyStore,
    UsageStore,
    BatchStore,
    ClusterStore,
    UploadStore,
    RecordStore,
    EventStore,
    JobQueue,
    WorkerRegistry,
    OutboxStore,
    RetentionStore,
    StatsStore,
    Protocol,
):
    """The job store, every role: queue, records, events, keys, uploads, workers, webhooks,
    retention and the cluster record. For those that hold the whole store (the app's
    wiring, a node's start-up, the commands); everyone else takes a role above."""

    def close(self) -> None: ...


__all__ = [
    "BatchStore",
    "ClusterStore",
    "DispatchStore",
    "EventStore",
    "FeedStore",
    "GenerationStore",
    "JobQueue",
    "KeyStore",
    "MetricsStore",
    "OutboxStore",
    "PruneStore",
    "QueueFull",
    "RecordStore",
    "RetentionStore",
    "StatsStore",
    "UsageStore",
    "Store",
    "UploadStore",
    "ViewStore",
    "WorkerRegistry",
    "WorkerStore",
]
