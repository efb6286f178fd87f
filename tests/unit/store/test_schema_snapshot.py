"""scripts/schema_snapshot.py: the fresh-install schema is generated from the migrations,
the same text every time, and ``--check`` names a stale snapshot with its difference.

(That the committed snapshots are current, and build the migrations' schema, is
tests/contract/store/test_store_schema.py, on both dialects.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fixtures.schema_dump import snapshot_script

from editserve.store.dialect import SNAPSHOT_VERSIONS, migrations, snapshot_versions
from editserve.store.sqlite import split_statements


@pytest.fixture
def snapshot_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the script reads and writes the SQLite snapshot during the test."""
    script = snapshot_script()
    path = tmp_path / "src" / "editserve" / "store" / "sqlite" / "schema.sql"
    path.parent.mkdir(parents=True)
    monkeypatch.setattr(script, "ROOT", tmp_path)
    monkeypatch.setattr(script, "STORE", tmp_path / "src" / "editserve" / "store")
    return path


def test_the_sqlite_snapshot_is_the_same_text_every_time() -> None:
    script = snapshot_script()
    first = script.render("sqlite")
    assert first == script.render("sqlite")
    assert snapshot_versions(first) == [migration.version for migration in migrations("sqlite")]
    assert first.count(SNAPSHOT_VERSIONS) == 1
    assert "schema_migrations" not in first  # the store's own table


def test_the_snapshot_runs_as_one_script_on_an_empty_database() -> None:
    text = snapshot_script().render("sqlite")
    conn = sqlite3.connect(":memory:")
    try:
        for statement in split_statements(text):
            conn.execute(statement)
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert {"generations", "events", "generations_queue", "events_webhooks"} <= names


def test_check_reports_a_stale_snapshot_and_writing_fixes_it(
    snapshot_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = snapshot_script()
    snapshot_file.write_text(script.render("sqlite").replace("CREATE INDEX events_owner", "--"))
    assert script.main(["--check", "sqlite"]) == 1
    err = capsys.readouterr().err
    assert "STALE" in err and "+CREATE INDEX events_owner" in err
    assert "python scripts/schema_snapshot.py sqlite" in err
    stale = snapshot_file.read_text()

    assert script.main(["sqlite"]) == 0  # writes it
    assert snapshot_file.read_text() != stale
    assert script.main(["--check", "sqlite"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_an_unknown_dialect_is_refused() -> None:
    with pytest.raises(SystemExit) as exited:
        snapshot_script().main(["mysql"])
    assert exited.value.code == 2
