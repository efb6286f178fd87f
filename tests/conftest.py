"""Shared fixtures (helpers live in tests/fixtures/)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.s3 import S3Server, start_s3_server, stop_s3_server
from fixtures.streams import apply_stream_deadlines
from fixtures.support import TINY_CACHE, LiveServer, make_png, start_server, stop_server

from editserve.models.qwen_image_edit.members import EDIT_2509


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that reads an event stream fails in seconds, not at the suite's timeout
    (fixtures/streams.py: the `stream` marker, and tests that follow /api/events)."""
    apply_stream_deadlines(items)


@pytest.fixture(scope="session")
def tiny_weights() -> Path:
    """The tiny random-weight model, built once into .cache/ and reused."""
    from editserve.models.qwen_image_edit.tiny.build import ensure_tiny_weights

    return ensure_tiny_weights(TINY_CACHE, variant=EDIT_2509)


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path
) -> Iterator[LiveServer]:
    """A real `editserve serve` process (API + one supervised worker) on tiny weights."""
    server = start_server(tmp_path_factory.mktemp("live-server"))
    try:
        yield server
    finally:
        stop_server(server.process)


@pytest.fixture
def png_bytes() -> bytes:
    return make_png()


@pytest.fixture
def png_data_uri() -> str:
    return "data:image/png;base64," + base64.b64encode(make_png()).decode()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3-compatible server process (moto), shared by the session; make buckets."""
    server = start_s3_server(tmp_path_factory.mktemp("s3-server"))
    try:
        yield server
    finally:
        stop_s3_server(server)
