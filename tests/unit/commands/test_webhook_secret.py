"""The first key's webhook signing secret is kept beside api_key (0600), and
`editserve keys webhook KEY --show-secret` prints a key's current one, alone on stdout."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from editserve.commands.main import main
from editserve.commands.startup import first_key_banner
from editserve.services.keys import (
    FIRST_KEY_FILE,
    FIRST_WEBHOOK_SECRET_FILE,
    create_key,
    ensure_first_key,
)
from editserve.store.rows import ApiKeyRow
from editserve.store.sqlite import SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "editserve.db")


def run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*args, "--data-dir", str(tmp_path)])
    return result.exit_code, result.stdout, result.stderr


def test_the_first_start_saves_the_signing_secret_beside_the_key(
    store: SqliteStore, tmp_path: Path
) -> None:
    key = ensure_first_key(store, tmp_path, "node-a")
    assert key is not None
    for name, text in (
        (FIRST_KEY_FILE, key.secret),
        (FIRST_WEBHOOK_SECRET_FILE, key.webhook_secret),
    ):
        path = tmp_path / name
        assert path.read_text() == text + "\n"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key.webhook_secret.startswith("whsec_")
    assert ensure_first_key(store, tmp_path, "node-a") is None  # once


def test_the_banner_says_where_the_secret_is_and_how_to_print_it(
    store: SqliteStore, tmp_path: Path
) -> None:
    key = ensure_first_key(store, tmp_path, "node-a")
    assert key is not None
    banner = first_key_banner(key, tmp_path / FIRST_KEY_FILE)
    assert key.webhook_secret in banner
    assert str(tmp_path / FIRST_WEBHOOK_SECRET_FILE) in banner
    assert f"editserve keys webhook {key.row.id} --show-secret" in banner


def test_show_secret_prints_the_current_secret_alone(store: SqliteStore, tmp_path: Path) -> None:
    key = create_key(store, "ci")
    for name in (key.row.id, key.secret[:12]):
        code, out, _ = run(tmp_path, "keys", "webhook", name, "--show-secret")
        assert code == 0
        assert out == key.webhook_secret + "\n"


def test_rotate_and_show_prints_the_new_secret_alone(store: SqliteStore, tmp_path: Path) -> None:
    key = create_key(store, "ci")
    code, out, err = run(
        tmp_path, "keys", "webhook", key.row.id, "--rotate-secret", "--show-secret"
    )
    assert code == 0
    new = out.strip()
    assert new.startswith("whsec_") and new != key.webhook_secret and out == new + "\n"
    assert f"new webhook signing secret of {key.row.id}: {new}" in err
    code, out, _ = run(tmp_path, "keys", "webhook", key.row.id, "--show-secret")
    assert out == new + "\n"


def test_rotate_alone_still_prints_on_stdout(store: SqliteStore, tmp_path: Path) -> None:
    key = create_key(store, "ci")
    code, out, _ = run(tmp_path, "keys", "webhook", key.row.id, "--rotate-secret")
    assert code == 0 and out.startswith(f"new webhook signing secret of {key.row.id}: whsec_")


def test_a_key_without_a_secret_yet_says_how_to_make_one(
    store: SqliteStore, tmp_path: Path
) -> None:
    row = ApiKeyRow(
        id="key_old000000",
        name="old",
        prefix="es_oldkey0",
        key_hash="x" * 64,
        created_at=time.time(),
    )
    store.insert_key(row)
    code, out, err = run(tmp_path, "keys", "webhook", row.id, "--show-secret")
    assert code == 1 and out == ""
    assert "--rotate-secret" in err


def test_nothing_asked_is_a_usage_error(store: SqliteStore, tmp_path: Path) -> None:
    key = create_key(store, "ci")
    code, _, err = run(tmp_path, "keys", "webhook", key.row.id)
    assert code == 2 and "--show-secret" in err
