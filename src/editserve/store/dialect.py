"""What the queue core needs of a database, and what the two dialects share.

A dialect only knows connections and transactions. It runs *named* statements, read from
its package's ``queries.sql`` (``sqlite/`` and ``postgres/``: the two files hold the same
``-- name:`` blocks), applies its ``migrations/`` at open (an empty database gets its
``schema.sql``, generated from those migrations), and hints at new events if it can. The
state machine itself (which status a generation moves to, which event it emits) lives
once, in ``store/core.py``, and passes the statuses it chooses to SQL as parameters. The
two statuses the queue's partial indexes are built on (``%(queued)s``, and ``%(held)s`` =
processing) are written into the statements as literals when the file is read
(``FIXED_STATUSES``, from the Status enum): a planner can use a partial index (``WHERE
status = 'queued'``) only for a literal, and a statement without a status parameter can
keep one plan for all its executions.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Protocol

from editserve.domain.events import GenerationEvent, stored_payload
from editserve.domain.record import Generation, Status

log = logging.getLogger("editserve.store")

Row = dict[str, Any]

# Parameters with one value for ever, inlined as SQL literals when the queries are read.
FIXED_STATUSES = {"queued": Status.QUEUED.value, "held": Status.PROCESSING.value}
# The placeholder of a named parameter, per dialect.
_PLACEHOLDER = {"postgres": r"%\({name}\)s", "sqlite": r":{name}\b"}


class Tx(Protocol):
    """One open transaction: named statements, and events inserted with it."""

    def one(self, name: str, /, **params: Any) -> Row | None: ...
    def all(self, name: str, /, **params: Any) -> list[Row]: ...
    def rowcount(self, name: str, /, **params: Any) -> int: ...
    def emit(self, gen: Generation, event: GenerationEvent) -> None:
        """Insert the event in this transaction; ids become visible in id order."""
        ...


class Dialect(Protocol):
    """Connections, transactions and named statements of one database kind."""

    # True if the hot-path statements write their own events in the statement of the
    # change (claim_started, finish_ended: one round trip); else core uses tx() + emit.
    emits_in_statement: bool

    def tx(self) -> AbstractContextManager[Tx]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        ...

    def one(self, name: str, /, **params: Any) -> Row | None:
        """One statement on its own (autocommit), first row or None."""
        ...

    def all(self, name: str, /, **params: Any) -> list[Row]: ...
    def rowcount(self, name: str, /, **params: Any) -> int: ...
    def migrate(self) -> list[int]:
        """Apply the migrations not applied yet; return their versions.

        The store's first call on its dialect (QueueStore.__init__), before any statement.
        """
        ...

    async def wait_for_events(self, owner: str | None, after_id: int, timeout: float) -> bool:
        """A hint of events after after_id, of owner (or of any key if owner is None)."""
        ...

    def work_added(self) -> None:
        """Jobs were enqueued and committed: tell idle workers (on any host, if it can)."""
        ...

    def wait_for_work(self, timeout: float, queued: Callable[[], bool]) -> bool:
        """Block up to timeout for a hint that work may wait; ``queued()`` is a cheap read
        a dialect may use to confirm a vague hint. Only a hint: the claim decides."""
        ...

    def is_unavailable(self, exc: BaseException) -> bool:
        """True for "the database is busy or unreachable; retry shortly"."""
        ...

    def close(self) -> None: ...


def dumps(value: Any) -> str:
    """JSON as the store writes it (compact, keys in insertion order)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


def event_row(gen: Generation, event: GenerationEvent) -> Row:
    """The parameters of the insert_event statement."""
    return {
        "owner": gen.owner,
        "generation_id": gen.id,
        "type": event.type,
        "data": dumps(stored_payload(gen, event)),
    }


@cache
def load_queries(dialect: str) -> dict[str, str]:
    """The named statements of <dialect>/queries.sql (comment lines dropped), with the
    ``FIXED_STATUSES`` parameters written in as literals, and each ``{{name}}`` replaced
    by the ``-- fragment: name`` block (CTEs two statements share)."""
    text = _inline_fixed(dialect, _read(dialect, "queries.sql"))
    blocks: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []
    for line in [*text.splitlines(), "-- name: <end>"]:
        stripped = line.strip()
        if stripped.startswith(("-- name:", "-- fragment:")):
            if name is not None:
                if name in blocks:
                    raise ValueError(f"{dialect}/queries.sql: {name!r} defined twice")
                blocks[name] = "\n".join(lines).strip().rstrip(";").strip()
            kind, _, rest = stripped.removeprefix("-- ").partition(":")
            label = rest.strip()
            name, lines = ("{{" + label + "}}" if kind == "fragment" else label), []
        elif name is not None and not stripped.startswith("--"):
            lines.append(line)
    fragments = {key: blocks.pop(key) for key in [key for key in blocks if key.startswith("{{")]}
    for key, statement in blocks.items():
        for mark, fragment in fragments.items():
            statement = statement.replace(mark, fragment)
        blocks[key] = statement
    return blocks


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    script: str


def migrations(dialect: str) -> list[Migration]:
    """<dialect>/migrations/NNN_name.sql, in version order."""
    folder = _files(dialect).joinpath("migrations")
    found = [
        Migration(int(entry.name.split("_", 1)[0]), entry.name, entry.read_text())
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(found, key=lambda migration: migration.version)


# The fresh-install schema's header line naming the migrations it was generated from.
SNAPSHOT_VERSIONS = "-- migrations:"


def snapshot_versions(script: str) -> list[int] | None:
    """The migration versions a schema.sql says it was generated from (None: it says not)."""
    for line in script.splitlines():
        if line.startswith(SNAPSHOT_VERSIONS):
            return [int(word) for word in line.removeprefix(SNAPSHOT_VERSIONS).split()]
    return None


def fresh_schema(dialect: str) -> str | None:
    """<dialect>/schema.sql: the schema every migration together builds, in one script.

    Generated from the migrations (scripts/schema_snapshot.py; CI runs it with --check). A
    fresh install runs it and records every migration version as applied; an existing
    database applies the migrations it lacks. tests/contract checks the two build the same.
    None when the snapshot was not generated from exactly the migrations there are (a
    migration added without regenerating it): the caller then applies them one by one,
    so a stale snapshot costs a slower first start, never a wrong schema.
    """
    script = _read(dialect, "schema.sql")
    if snapshot_versions(script) != [migration.version for migration in migrations(dialect)]:
        log.warning(
            "store: %s/schema.sql is stale (run scripts/schema_snapshot.py); "
            "applying the migrations one by one",
            dialect,
        )
        return None
    return script


def _inline_fixed(dialect: str, text: str) -> str:
    for name, value in FIXED_STATUSES.items():
        text = re.sub(_PLACEHOLDER[dialect].format(name=name), f"'{value}'", text)
    return text


def _files(dialect: str) -> Traversable:
    """The dialect's package folder, found without importing it (``postgres/`` would
    import psycopg)."""
    if dialect not in _PLACEHOLDER:
        raise ValueError(f"unknown store dialect {dialect!r}")
    return resources.files("editserve.store").joinpath(dialect)


def _read(dialect: str, name: str) -> str:
    return _files(dialect).joinpath(name).read_text()


__all__ = [
    "Dialect",
    "Migration",
    "Row",
    "Tx",
    "dumps",
    "event_row",
    "fresh_schema",
    "load_queries",
    "migrations",
    "snapshot_versions",
]
