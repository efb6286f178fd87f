"""One store contract, two databases: every test here runs on SQLite and on PostgreSQL.

`target` names where a store lives (a SQLite file, or a PostgreSQL database cloned from a
migrated template) and opens as many store objects on it as a test wants (workers in
other processes are other store objects); `store` is the first of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fixtures.postgres import fresh_database, migrated_template, require_postgres
from fixtures.store_targets import StoreTarget

from editserve.store import Store

KINDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    require_postgres()
    with migrated_template() as name:
        yield name


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fresh_target(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[bool], StoreTarget]]:
    """Make targets of this test's kind: migrated (True) or empty (False) databases."""
    with ExitStack() as stack:
        made: list[StoreTarget] = []

        def make(migrated: bool = True) -> StoreTarget:
            if kind == "sqlite":
                location = str(tmp_path / f"db{len(made)}.sqlite")
            else:
                template = request.getfixturevalue("pg_template") if migrated else None
                if template is None:
                    require_postgres()
                location = stack.enter_context(fresh_database(template))
            target = StoreTarget(kind, location)
            made.append(target)
            return target

        try:
            yield make
        finally:
            for target in made:
                target.close_all()


@pytest.fixture
def target(kind: str, fresh_target: Callable[[bool], StoreTarget]) -> StoreTarget:
    return fresh_target(True)


@pytest.fixture
def store(target: StoreTarget) -> Store:
    return target.open()
