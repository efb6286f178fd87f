"""The commands that read the store (status, keys, prune) never create a database: a
missing SQLite file is one line naming where it was looked for and how to point
elsewhere; prune --dry-run takes its age from EDITSERVE_RETENTION_DAYS or says both ways."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from editserve.commands.main import main
from editserve.commands.serve import serve
from editserve.commands.worker import worker
from editserve.core.settings import load_settings
from editserve.store.sqlite import SqliteStore

READERS = [
    ["status"],
    ["keys", "list"],
    ["keys", "create"],
    ["keys", "revoke", "key_x"],
    ["keys", "webhook", "key_x", "--clear"],
    ["prune", "--older-than", "1"],
    ["prune", "--dry-run", "--older-than", "1"],
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EDITSERVE_DATA_DIR", "EDITSERVE_DATABASE_URL", "EDITSERVE_RETENTION_DAYS"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_missing_database_is_an_error_not_a_new_file(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # outside the repository: the default data dir is not there
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    expected = (tmp_path / "editserve-data" / "editserve.db").resolve()
    assert f"no database at {expected}" in result.output
    assert "--data-dir" in result.output and "EDITSERVE_DATA_DIR" in result.output
    assert "--database-url" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "editserve-data").exists()


def test_a_missing_database_url_file_is_named(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere.db"
    result = CliRunner().invoke(main, ["keys", "list", "--database-url", f"sqlite:///{db}"])
    assert result.exit_code == 1, result.output
    assert f"no database at {db}" in result.output and "EDITSERVE_DATABASE_URL" in result.output
    assert not db.exists()


def test_an_existing_database_is_read(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "editserve.db").close()  # what serve / migrate leave behind
    result = CliRunner().invoke(main, ["keys", "list", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "PREFIX" in result.output


def test_prune_dry_run_uses_the_retention_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    SqliteStore(tmp_path / "editserve.db").close()
    monkeypatch.setenv("EDITSERVE_RETENTION_DAYS", "7")
    result = CliRunner().invoke(main, ["prune", "--dry-run", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "older than 7 days; would delete" in result.output


def test_prune_dry_run_without_an_age_names_both_ways(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "editserve.db").close()
    result = CliRunner().invoke(main, ["prune", "--dry-run", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "--older-than DAYS" in result.output
    assert "EDITSERVE_RETENTION_DAYS" in result.output


@pytest.mark.parametrize("command", [serve, worker], ids=["serve", "worker"])
def test_fetch_allow_hosts_is_a_server_flag(command: object) -> None:
    names = {option for param in command.params for option in param.opts}  # type: ignore[attr-defined]
    assert "--fetch-allow-hosts" in names


def test_the_flag_becomes_the_setting() -> None:
    settings = load_settings(fetch_allow_hosts="127.0.0.1, *.corp.test")
    assert settings.fetch_allow_hosts == ["127.0.0.1", "*.corp.test"]
