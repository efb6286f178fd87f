"""`editserve keys` on the database: create with scopes, weight and quotas, `keys set` to
change them (none: back to the server's default), `keys list` showing them, the last admin
key kept; every change audited as cli:<operating-system user>, values checked as the admin
API checks them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from editserve.commands.main import main
from editserve.services.keys import create_key, hash_key
from editserve.store.rows import SCOPES, ApiKeyRow
from editserve.store.sqlite import SqliteStore


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SqliteStore:
    monkeypatch.setenv("LOGNAME", "ops")  # getpass.getuser() reads it first
    for name in ("EDITSERVE_DATA_DIR", "EDITSERVE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return SqliteStore(tmp_path / "editserve.db")


def run(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["keys", *args, "--data-dir", str(tmp_path)])


def only_key(store: SqliteStore, secret: str) -> ApiKeyRow:
    row = store.key_by_hash(hash_key(secret))
    assert row is not None
    return row


def test_create_takes_a_name_scopes_weight_and_quotas(store: SqliteStore, tmp_path: Path) -> None:
    done = run(
        tmp_path, "create", "team-b", "--scopes", "read, submit", "--weight", "2.5",
        "--max-running", "20", "--gpu-seconds-per-day", "7200",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    secret = done.stdout.strip()
    assert secret.startswith("es_") and "\n" not in secret  # stdout: the secret alone
    row = only_key(store, secret)
    assert (row.name, row.scopes, row.weight) == ("team-b", ("submit", "read"), 2.5)
    assert (row.max_running, row.gpu_seconds_per_day) == (20, 7200.0)
    assert f"{row.id}\tteam-b" in done.stderr
    assert "scopes submit,read, weight 2.5, max running 20, GPU-seconds per day 7200" in done.stderr
    assert "webhook signing secret: whsec_" in done.stderr
    [entry] = store.audit_log(row.id)
    assert (entry.action, entry.actor) == ("create", "cli:ops")
    assert entry.detail["max_running"] == 20 and entry.detail["scopes"] == ["submit", "read"]
    assert secret not in str(entry.detail) and row.key_hash not in str(entry.detail)


def test_create_with_name_as_before_gives_the_defaults(store: SqliteStore, tmp_path: Path) -> None:
    done = run(tmp_path, "create", "--name", "burst")
    assert done.exit_code == 0, done.output
    row = only_key(store, done.stdout.strip())
    assert (row.name, row.scopes, row.weight, row.max_running) == (
        "burst", ("submit", "read"), 1.0, None
    )  # fmt: skip
    assert "max running default, GPU-seconds per day default" in done.stderr
    unnamed = run(tmp_path, "create", "--scopes", "admin")
    assert only_key(store, unnamed.stdout.strip()).name == "default"
    same = run(tmp_path, "create", "x", "--name", "x")
    assert same.exit_code == 0
    both = run(tmp_path, "create", "x", "--name", "y")
    assert both.exit_code == 2 and "two names" in both.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--scopes", "root"], "--scopes: unknown scope 'root'"),
        (["--scopes", ","], "--scopes:"),
        (["--weight", "0"], "--weight:"),
        (["--weight", "1001"], "--weight:"),
        (["--max-running", "lots"], "--max-running: must be a whole number or none"),
        (["--max-running", "0"], "--max-running:"),
        (["--gpu-seconds-per-day", "-5"], "--gpu-seconds-per-day:"),
        (["--gpu-seconds-per-day", "a day"], "--gpu-seconds-per-day: must be a number"),
    ],
)
def test_bad_values_are_refused_naming_the_option(
    store: SqliteStore, tmp_path: Path, args: list[str], named: str
) -> None:
    key = create_key(store, "k")
    for command in (["create", "new", *args], ["set", key.row.id, *args]):
        done = run(tmp_path, *command)
        assert done.exit_code == 2, done.output
        assert named in done.output, done.output
    assert [row.id for row in store.list_keys()] == [key.row.id]  # nothing made
    assert store.get_key(key.row.id) == key.row and store.audit_log() == []  # nor changed


def test_set_changes_what_it_is_given_and_none_clears_a_quota(
    store: SqliteStore, tmp_path: Path
) -> None:
    key = create_key(store, "team")
    done = run(
        tmp_path, "set", key.row.id, "--weight", "3", "--max-running", "5",
        "--gpu-seconds-per-day", "3600", "--scopes", "read",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == (
        f"{key.row.id}\tteam: scopes read, weight 3, max running 5, GPU-seconds per day 3600"
    )
    row = store.get_key(key.row.id)
    assert row is not None
    assert (row.scopes, row.weight, row.max_running, row.gpu_seconds_per_day) == (
        ("read",), 3.0, 5, 3600.0
    )  # fmt: skip
    by_secret = run(tmp_path, "set", key.secret[:12], "--max-running", "none")
    assert by_secret.exit_code == 0, by_secret.output
    row = store.get_key(key.row.id)
    assert row is not None and row.max_running is None and row.weight == 3.0  # the rest stays
    log = store.audit_log(key.row.id)
    assert [(e.action, e.actor) for e in log] == [("update", "cli:ops"), ("update", "cli:ops")]
    assert log[0].detail == {"max_running": None}
    assert log[1].detail == {
        "scopes": ["read"], "weight": 3.0, "max_running": 5, "gpu_seconds_per_day": 3600.0
    }  # fmt: skip


def test_set_without_a_change_or_on_no_key_says_so(store: SqliteStore, tmp_path: Path) -> None:
    key = create_key(store, "team")
    nothing = run(tmp_path, "set", key.row.id)
    assert nothing.exit_code == 2 and "say what to change" in nothing.output
    missing = run(tmp_path, "set", "key_nobody", "--weight", "2")
    assert missing.exit_code == 1 and "no active key matches 'key_nobody'" in missing.output
    store.revoke_key(key.row.id)
    revoked = run(tmp_path, "set", key.row.id, "--weight", "2")
    assert revoked.exit_code == 1 and "no active key matches" in revoked.output


def test_the_last_admin_key_is_kept(store: SqliteStore, tmp_path: Path) -> None:
    first = create_key(store, "first", SCOPES).row.id
    demote = run(tmp_path, "set", first, "--scopes", "submit,read")
    assert demote.exit_code == 1 and "last admin key" in demote.output
    revoke = run(tmp_path, "revoke", first)
    assert revoke.exit_code == 1 and "last admin key" in revoke.output
    row = store.get_key(first)
    assert row is not None and row.revoked_at is None and "admin" in row.scopes
    assert store.audit_log(first) == []

    other = create_key(store, "other").row.id
    assert run(tmp_path, "set", other, "--scopes", "admin,read").exit_code == 0
    revoked = run(tmp_path, "revoke", first)
    assert revoked.exit_code == 0 and revoked.stdout.strip() == f"revoked {first}"
    [entry] = store.audit_log(first)
    assert (entry.action, entry.actor) == ("revoke", "cli:ops")
    assert run(tmp_path, "revoke", first).exit_code == 1  # already revoked


def test_list_shows_scopes_weight_and_quotas(store: SqliteStore, tmp_path: Path) -> None:
    plain = create_key(store, "plain").row
    tuned = create_key(
        store, "tuned", ("admin", "read"), weight=2.5, max_running=7, gpu_seconds_per_day=90.0
    ).row
    store.revoke_key(plain.id)
    done = run(tmp_path, "list")
    assert done.exit_code == 0, done.output
    header, *lines = done.stdout.splitlines()
    assert header.split() == [
        "ID", "NAME", "PREFIX", "CREATED", "SCOPES", "WEIGHT", "MAX_RUNNING", "GPU_S/DAY",
        "STATUS",
    ]  # fmt: skip
    rows = {line.split()[0]: line.split() for line in lines}
    # ID NAME PREFIX DATE TIME SCOPES WEIGHT MAX_RUNNING GPU_S/DAY STATUS
    assert rows[plain.id][1] == "plain" and rows[plain.id][5:] == [
        "submit,read", "1", "-", "-", "revoked"
    ]  # fmt: skip
    assert rows[tuned.id][5:] == ["admin,read", "2.5", "7", "90", "active"]
    assert tuned.key_hash not in done.output
