"""Holding under abuse: secrets at rest and in the logs. Signed links, webhook tokens and
passwords never reach a log line (uvicorn's access log included) or a start-up error; the
SQLite file that holds the signing and webhook secrets is owner-only."""

from __future__ import annotations

import logging
import logging.config
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from editserve.api.app import build_services, create_app
from editserve.core.logs import UVICORN_LOGGERS, RedactFilter, redact_secrets, setup_logging
from editserve.core.settings import Settings
from editserve.services.cluster.node import NodeRefused, database_problem, open_store_checked
from editserve.store import open_store
from editserve.store.sqlite.store import SqliteStore

SIGNATURE = "c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw"
TOKEN = "tok_live_5f0e1d2c"
PASSWORD = "hunter2-correct-horse"


# --- the redaction ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown", "hidden"),
    [
        (
            f'127.0.0.1:5 - "GET /files/outputs/a.png?signature={SIGNATURE} HTTP/1.1" 200',
            "/files/outputs/a.png?signature=*** HTTP/1.1",
            SIGNATURE,
        ),
        (
            f"GET /files/a.png?expires=1700000000&signature={SIGNATURE}",
            "expires=1700000000&signature=***",
            SIGNATURE,
        ),
        (
            f"delivery to https://hooks.example/cb?token={TOKEN}&tenant=7 failed",
            "https://hooks.example/cb?token=***&tenant=7",
            TOKEN,
        ),
        (
            f"https://b.s3/x?X-Amz-Credential=AKIA{TOKEN}&X-Amz-Signature={SIGNATURE}",
            "X-Amz-Credential=***&X-Amz-Signature=***",
            SIGNATURE,
        ),
        (f"https://maps.example/v1?key={TOKEN}&q=1", "?key=***&q=1", TOKEN),
        (f"postgresql://editserve:{PASSWORD}@db:5432/e", "postgresql://editserve:***@db", PASSWORD),
        (f"https://{TOKEN}@git.example/repo", "https://***@git.example/repo", TOKEN),
        (f"host=db user=e password={PASSWORD} dbname=e", "password=*** dbname=e", PASSWORD),
    ],
)
def test_secrets_are_redacted_from_text(text: str, shown: str, hidden: str) -> None:
    redacted = redact_secrets(text)
    assert hidden not in redacted and shown in redacted
    assert redact_secrets(redacted) == redacted  # twice changes nothing


def test_ordinary_words_stay() -> None:
    text = "status_code=500 generation_id=3f0c stage=denoise user@example.com https://a.example/x"
    assert redact_secrets(text) == text


# --- the log lines ---------------------------------------------------------------------------


@pytest.fixture
def logs() -> Iterator[None]:
    """editserve's logging as a process sets it up, undone afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    saved = {name: list(logging.getLogger(name).filters) for name in UVICORN_LOGGERS}
    yield
    root.setLevel(level)
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for name, filters in saved.items():
        logging.getLogger(name).filters[:] = filters
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def serve_and_fetch(app: Any, path: str, log_config: dict[str, Any] | None) -> None:
    """Run uvicorn as `editserve serve` does and make one request (its access log line)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=log_config)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_secret_reaches_a_log_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], logs: None, log_format: str
) -> None:
    setup_logging("info", log_format)
    app = create_app(Settings(data_dir=tmp_path))
    # as commands/serve.py runs uvicorn: its own handlers for text, ours for json
    log_config = None if log_format == "json" else uvicorn.config.LOGGING_CONFIG
    serve_and_fetch(app, f"/files/outputs/a.png?signature={SIGNATURE}", log_config)
    logging.getLogger("editserve.services.webhooks").warning(
        "webhooks: delivery to %s failed", f"https://hooks.example/cb?token={TOKEN}"
    )
    try:
        raise RuntimeError(f"cannot reach postgresql://e:{PASSWORD}@db/e")
    except RuntimeError:
        logging.getLogger("editserve.api").exception("unhandled")
    out = capsys.readouterr()
    written = out.out + out.err
    assert "GET /files/outputs/a.png?signature=***" in written  # the access log line
    assert "cb?token=***" in written and "postgresql://e:***@db/e" in written
    for secret in (SIGNATURE, TOKEN, PASSWORD):
        assert secret not in written, secret


def test_uvicorns_loggers_carry_the_filter_after_its_own_config(logs: None) -> None:
    setup_logging("info")
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)  # what uvicorn.run does
    for name in UVICORN_LOGGERS:
        assert any(isinstance(f, RedactFilter) for f in logging.getLogger(name).filters), name


# --- start-up errors -------------------------------------------------------------------------


def test_an_unusable_database_url_is_refused_without_its_password(tmp_path: Path) -> None:
    url = f"mysql://editserve:{PASSWORD}@db/editserve"
    with pytest.raises(NodeRefused) as refused:
        open_store_checked(Settings(data_dir=tmp_path, database_url=url))
    message = str(refused.value)
    assert "mysql://editserve:***@db/editserve" in message
    assert PASSWORD not in message


@pytest.mark.parametrize(
    ("url", "driver_says"),
    [
        # psycopg quotes a URI it cannot parse
        (
            f"postgresql://e:{PASSWORD}@[::1/e",
            f'end of string reached when looking for matching "]" in IPv6 host address in '
            f'URI: "postgresql://e:{PASSWORD}@[::1/e"',
        ),
        # a '/' typed into the password: urlsplit sees no password at all
        (f"postgresql://e:ab/{PASSWORD}@db/e", "failed to resolve host 'e'"),
        (f"postgresql://e:{PASSWORD}#x@db/e", f"invalid port in {PASSWORD}#x"),
    ],
)
def test_a_database_error_never_shows_the_password(url: str, driver_says: str) -> None:
    message = database_problem(url, ValueError(driver_says))
    assert PASSWORD not in message, message
    assert "e:***@" in message


def test_doctor_never_shows_the_database_password(tmp_path: Path) -> None:
    from editserve.commands.doctor.checks import Findings
    from editserve.commands.doctor.serving import check_database

    found = Findings()  # psycopg quotes the whole URL it cannot parse, password and all
    url = f"postgresql://e:{PASSWORD}@[::1/e"
    check_database(found, Settings(data_dir=tmp_path, database_url=url))
    (check,) = found.checks
    assert check.status == "fail" and "e:***@" in check.finding
    assert PASSWORD not in str(found)


# --- the SQLite file -------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)  # an ordinary umask: files 0644, folders 0755 unless made private
    yield
    os.umask(old)


def test_a_new_database_and_data_dir_are_owner_only(tmp_path: Path, umask: None) -> None:
    data_dir = tmp_path / "editserve-data"
    services = build_services(Settings(data_dir=data_dir))
    services.store.count_active_keys()  # a read: the -wal and -shm files exist now
    db = data_dir / "editserve.db"
    assert mode(data_dir) == 0o700
    assert mode(db) == 0o600
    for suffix in ("-wal", "-shm"):
        companion = Path(f"{db}{suffix}")
        assert companion.exists() and mode(companion) == 0o600, suffix


def test_a_folder_of_its_own_for_the_database_is_owner_only(tmp_path: Path, umask: None) -> None:
    SqliteStore(tmp_path / "new" / "deeper" / "e.db").count_active_keys()
    assert mode(tmp_path / "new" / "deeper") == 0o700
    assert mode(tmp_path / "new" / "deeper" / "e.db") == 0o600


def test_an_existing_database_is_tightened_and_a_users_folder_left_alone(
    tmp_path: Path, umask: None, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "mine"
    folder.mkdir(mode=0o755)
    db = folder / "editserve.db"
    running = open_store(Settings(data_dir=tmp_path, database_url=f"sqlite:///{db}"))
    running.count_active_keys()  # an open connection: the -wal and -shm files exist
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.chmod(0o644)  # as an older editserve left them
    with caplog.at_level(logging.WARNING, logger="editserve.store"):
        SqliteStore(db).count_active_keys()
    assert mode(db) == 0o600
    assert mode(Path(f"{db}-wal")) == 0o600 and mode(Path(f"{db}-shm")) == 0o600
    running.close()
    assert mode(folder) == 0o755  # the user's folder: not changed behind their back
    assert "owner-only" in caplog.text
