"""What the worker tests set up alike: the store beside their settings (each test file
says its own settings: lease, batch size), and the input their queued generations name
(tests/fixtures/worker.py queues them)."""

from __future__ import annotations

import pytest
from fixtures.worker import put_input

from editserve.blobs import LocalStorage
from editserve.core.settings import Settings
from editserve.store.sqlite import SqliteStore


@pytest.fixture
def store(settings: Settings) -> SqliteStore:
    return SqliteStore(settings.data_dir / "db.sqlite")


@pytest.fixture
def storage(settings: Settings) -> LocalStorage:
    """The folder storage holding the one input (RGBA: the worker flattens it)."""
    return put_input(LocalStorage(settings.data_dir / "files"), mode="RGBA")
