"""A model's start-up says what editserve does, not the libraries' notices that nobody can
act on: torch's deprecation of what torchao does at import, diffusers missing torchao's
moved tensor classes, diffusers calling attention backends experimental. They stay
available at DEBUG; every other library record and editserve's own warnings still show."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from editserve.core.logs import (
    LIBRARY_NOTICES,
    DemoteFilter,
    make_handler,
    quiet_library_notices,
)

NOTICES = [fragment for _logger, fragment in LIBRARY_NOTICES]

# A worker's process: logging as `editserve worker` sets it up, then the tiny model loaded
# through the adapter (the pipeline's imports, torchao, the attention backend).
LOAD = """
import sys
from pathlib import Path
from editserve.core.logs import setup_logging
from editserve.core.settings import Settings
from editserve.models.qwen_image_edit.runtime.adapter import QwenImageEditPlusAdapter

setup_logging(sys.argv[3])
settings = Settings(data_dir=Path(sys.argv[2]), model_weights=sys.argv[1], output_area=4096)
loaded = QwenImageEditPlusAdapter(settings, device="cpu", warmup=False).load()
print("loaded", loaded.source, "torchao" in sys.modules, flush=True)
"""


def start_up(tiny_weights_dir: Path, tmp_path: Path, level: str) -> tuple[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(tiny_weights_dir), str(tmp_path), level],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


@pytest.mark.slow
def test_a_model_start_up_prints_no_library_notices(tiny_weights_dir: Path, tmp_path: Path) -> None:
    stdout, stderr = start_up(tiny_weights_dir, tmp_path, "info")
    assert stdout.startswith("loaded ") and stdout.split()[-1] == "True"  # torchao came in
    lines = stderr.splitlines()
    assert not [line for line in lines if any(notice in line for notice in NOTICES)], stderr
    # torch's own handler writes W<date> lines; Python warnings say "...Warning:"
    assert not [line for line in lines if line[:1] == "W" and line[1:5].isdigit()], stderr
    assert "Warning:" not in stderr
    assert "INFO    editserve" in stderr  # editserve's own lines are there


@pytest.fixture
def library() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A library's logger with a known notice, writing through editserve's handler."""
    stream = io.StringIO()
    handler = make_handler("text")
    handler.setStream(stream)  # type: ignore[attr-defined]
    logger = logging.getLogger("test_startup_quiet.library")
    logger.addHandler(handler)
    logger.addFilter(DemoteFilter(("an experimental feature",)))
    logger.propagate = False
    root, level = logging.getLogger(), logging.getLogger().level
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.filters.clear()
        logger.propagate = True
        root.setLevel(level)


def test_a_known_notice_is_a_debug_record_and_the_rest_pass(
    library: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = library
    logging.getLogger().setLevel(logging.INFO)
    logger.warning("Attention backends are an experimental feature and may change.")
    logger.warning("something the operator should see")
    logging.getLogger().setLevel(logging.DEBUG)
    logger.warning("Attention backends are an experimental feature, at debug")
    assert [line.split(" ", 2)[2] for line in stream.getvalue().splitlines()] == [
        "WARNING test_startup_quiet.library: something the operator should see",
        "DEBUG   test_startup_quiet.library: Attention backends are an experimental feature, "
        "at debug",
    ]


def test_the_notices_are_quieted_on_their_own_loggers_only() -> None:
    quiet_library_notices(debug=False)
    quiet_library_notices(debug=False)  # again: still one filter each
    for name, fragment in LIBRARY_NOTICES:
        demoting = [f for f in logging.getLogger(name).filters if isinstance(f, DemoteFilter)]
        assert len(demoting) == 1 and fragment in demoting[0].fragments
    assert not any(isinstance(f, DemoteFilter) for f in logging.getLogger("editserve").filters)
