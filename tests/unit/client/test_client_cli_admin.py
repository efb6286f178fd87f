"""``editserve usage`` and ``editserve admin`` against a mock server (CliRunner)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from test_client_admin import KEY, USAGE, Server, forbidden

from editserve.client import Client, commands
from editserve.commands.main import main


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Server:
    server = Server({})

    def factory(url: str | None, api_key: str | None, **kwargs: Any) -> Client:
        transport = httpx.MockTransport(server)
        return Client(url or "http://server", api_key or "es_admin", transport=transport, **kwargs)

    monkeypatch.setattr(commands, "client_factory", factory)
    return server


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def answer(server: Server, method: str, path: str, body: Any, status: int = 200) -> None:
    server.answers[(method, path)] = httpx.Response(status, json=body)


# --- usage -------------------------------------------------------------------------------------


def test_usage_prints_the_table_total_and_quotas(server: Server) -> None:
    answer(server, "GET", "/api/ai/usage", USAGE)
    result = run("usage", "--from", "2026-11-06", "--to", "2026-12-07")
    assert result.exit_code == 0, result.output
    assert dict(server.last.url.params) == {
        "from": "2026-11-06",
        "to": "2026-12-07",
        "group_by": "day",
    }
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "Usage of key_ab12cd34ef56 from 2026-11-06T00:00:00Z to 2026-12-06T20:00:00Z"
    )
    assert lines[1].split() == ["DAY", "GENERATIONS", "SUCCEEDED", "GPU-SECONDS", "MEGAPIXELS"]
    assert lines[2].split() == ["2026-12-05", "2", "1", "4.5", "2.1"]
    assert lines[3].split() == ["2026-12-06", "10", "10", "30", "10.48"]
    assert lines[4].split() == ["total", "12", "11", "34.5", "12.58"]
    assert lines[5] == (
        "Quotas: running 3 of 100, GPU-seconds in the last 24 h 34.5 of unlimited, weight 1"
    )
    assert "COST" not in result.stdout  # no price table


def test_usage_with_a_price_table_by_model_for_all_keys(server: Server) -> None:
    priced = {
        **USAGE,
        "group_by": "model",
        "key": "all",
        "currency": "USD",
        "rows": [{"model": "m1", "generations": 3, "succeeded": 3, "gpu_seconds": 9, "cost": 0.5}],
        "total": {"generations": 3, "succeeded": 3, "gpu_seconds": 9, "cost": 0.5},
        "quotas": {**USAGE["quotas"], "gpu_seconds_per_day": 3600, "max_running": None},
    }
    answer(server, "GET", "/api/ai/usage", priced)
    result = run("usage", "--group-by", "model", "--key", "all")
    assert result.exit_code == 0, result.output
    assert server.last.url.params["key"] == "all"
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Usage of every key from")
    assert lines[1].split()[0] == "MODEL" and lines[1].endswith("COST (USD)")
    assert lines[2].split() == ["m1", "3", "3", "9", "0", "0.5"]
    assert "running 3 of unlimited" in lines[-1] and "34.5 of 3600" in lines[-1]


def test_usage_json_and_an_empty_period(server: Server) -> None:
    empty = {**USAGE, "rows": [], "total": {"generations": 0}}
    answer(server, "GET", "/api/ai/usage", empty)
    result = run("usage", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == empty
    result = run("usage")
    assert result.exit_code == 0
    assert "No generations finished in this period." in result.stderr
    assert "Quotas: running 3 of 100" in result.stdout


def test_usage_of_all_keys_without_the_admin_scope_exits_3(server: Server) -> None:
    server.answers[("GET", "/api/ai/usage")] = forbidden("admin")
    result = run("usage", "--key", "all", "--json")
    assert result.exit_code == 3
    assert "403 forbidden" in result.stderr and "admin scope" in result.stderr
    assert json.loads(result.stdout)["error"]["status"] == 403


def test_usage_refuses_an_unknown_grouping(server: Server) -> None:
    result = run("usage", "--group-by", "week")
    assert result.exit_code == 2 and "week" in result.stderr
    assert server.requests == []


# --- admin keys ------------------------------------------------------------------------------


def test_admin_keys_create_prints_only_the_secret_on_stdout(server: Server) -> None:
    created = {**KEY, "key": "es_new_secret", "webhook_secret": "whsec_1"}
    answer(server, "POST", "/api/admin/keys", created, status=201)
    result = run(
        "admin",
        "keys",
        "create",
        "alice",
        "--scopes",
        "submit,read",
        "--weight",
        "2",
        "--max-running",
        "4",
        "--gpu-seconds-per-day",
        "none",
    )
    assert result.exit_code == 0, result.output
    assert server.body() == {
        "name": "alice",
        "scopes": ["submit", "read"],
        "weight": 2.0,
        "max_running": 4,
    }  # "none" on creation is the default: no limit, nothing sent
    assert result.stdout == "es_new_secret\n"
    assert "key_ab12cd34ef56" in result.stderr and "whsec_1" in result.stderr


def test_admin_keys_create_refuses_an_unknown_scope(server: Server) -> None:
    result = run("admin", "keys", "create", "bob", "--scopes", "read,write")
    assert result.exit_code == 2 and "unknown scope 'write'" in result.stderr
    assert server.requests == []


def test_admin_keys_list_and_show(server: Server) -> None:
    revoked = {**KEY, "id": "key_old", "name": "old", "revoked_at": 1_700_000_500}
    answer(server, "GET", "/api/admin/keys", {"keys": [KEY, revoked]})
    answer(server, "GET", "/api/admin/keys/key_old", revoked)
    result = run("admin", "keys", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["ID", "NAME", "PREFIX", "SCOPES"]
    assert lines[1].split() == ["key_ab12cd34ef56", "alice", "es_ab12", "submit,read"] + [
        "2",
        "4",
        "-",
        "active",
    ]
    assert lines[2].split()[0] == "key_old" and lines[2].split()[-1] == "revoked"
    result = run("admin", "keys", "show", "key_old")
    assert result.exit_code == 0
    fields = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert fields["id"] == "key_old" and fields["max_running"] == "4"
    assert fields["gpu_s_per_day"] == "unlimited" and "revoked_at" in fields


def test_admin_keys_set_sends_null_for_none(server: Server) -> None:
    answer(server, "PATCH", "/api/admin/keys/key_ab12cd34ef56", {**KEY, "max_running": None})
    result = run(
        "admin", "keys", "set", "key_ab12cd34ef56", "--max-running", "none", "--webhook-url", "none"
    )
    assert result.exit_code == 0, result.output
    assert server.body() == {"max_running": None, "webhook_url": None}
    assert "max_running    unlimited" in result.stdout


def test_admin_keys_set_needs_a_change_and_a_number(server: Server) -> None:
    result = run("admin", "keys", "set", "key_a")
    assert result.exit_code == 2 and "nothing to change" in result.stderr
    result = run("admin", "keys", "set", "key_a", "--max-running", "lots")
    assert result.exit_code == 2 and "expected a whole number or 'none'" in result.stderr
    assert server.requests == []


def test_admin_keys_revoke(server: Server) -> None:
    answer(server, "DELETE", "/api/admin/keys/key_b", {"id": "key_b", "revoked": True})
    result = run("admin", "keys", "revoke", "key_b")
    assert result.exit_code == 0 and result.stdout == "key_b revoked\n"
    server.answers[("DELETE", "/api/admin/keys/key_a")] = httpx.Response(
        409, json={"error": {"type": "conflict", "detail": "the last admin key"}}
    )
    result = run("admin", "keys", "revoke", "key_a")
    assert result.exit_code == 3 and "last admin key" in result.stderr


def test_admin_without_the_scope_exits_3_naming_it(server: Server) -> None:
    server.answers[("GET", "/api/admin/keys")] = forbidden("admin")
    result = run("admin", "keys", "list")
    assert result.exit_code == 3 and "admin scope" in result.stderr


def test_admin_audit(server: Server) -> None:
    entry = {
        "seq": 7,
        "at": 1_700_000_100,
        "actor": "key_root",
        "action": "update",
        "key_id": "key_b",
        "detail": {"max_running": 4},
    }
    answer(server, "GET", "/api/admin/audit", {"entries": [entry], "next_before": 7})
    result = run("admin", "audit", "--key", "key_b", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert dict(server.last.url.params) == {"key_id": "key_b", "limit": "1"}
    row = result.stdout.splitlines()[1].split()
    assert row[0] == "7" and row[-4:] == ["key_root", "update", "key_b", "max_running=4"]
    assert "editserve admin audit --before 7" in result.stderr
