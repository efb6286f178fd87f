"""A node's start-up check without a cluster: the messages it refuses with, the values it
compares, and the in-process app signing with the cluster's secret."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from editserve.commands.main import main as cli
from editserve.core.settings import Settings
from editserve.services.cluster.agreed import AGREED_SETTINGS, agreed_facts, compare, refusal
from editserve.services.cluster.node import (
    NodeRefused,
    open_storage_checked,
    open_store_checked,
    redact,
    start_node,
)
from editserve.store.cluster import ClusterFact


def fact(name: str, value: str) -> ClusterFact:
    return ClusterFact(name, value, time.mktime((2026, 11, 29, 12, 0, 0, 0, 0, 0)), "gpu-1:/d")


def test_agreed_values_are_spelled_one_way() -> None:
    loose = Settings(lightning=" 4 ", step_cache="OFF", step_cache_threshold=0.080)
    tight = Settings(lightning="4", step_cache="off", step_cache_threshold=0.08)
    assert agreed_facts(loose) == agreed_facts(tight)
    assert {"output_area", "preview_area", "lightning"} <= set(AGREED_SETTINGS)


def test_one_differing_setting_is_one_line_that_says_what_to_do() -> None:
    ours = agreed_facts(Settings(output_area=1048576))
    facts = {name: fact(name, value) for name, value in ours.items()}
    assert compare(ours, facts) == []
    facts["setting.output_area"] = fact("setting.output_area", "262144")
    [mismatch] = compare(ours, facts)
    message = refusal([mismatch])
    assert "\n" not in message
    assert message.startswith(
        "setting EDITSERVE_OUTPUT_AREA differs from the cluster's: this node 1048576, "
        "cluster 262144 (recorded 2026-11-29 "
    )
    assert message.endswith(
        "by node gpu-1:/d). Set it to match, or run 'editserve migrate --accept-settings' "
        "to change the cluster's value."
    )


def test_several_differing_settings_are_each_named() -> None:
    ours = agreed_facts(Settings(output_area=4096, preview_area=1024))
    facts = {name: fact(name, "999999") for name in ("setting.output_area", "setting.preview_area")}
    lines = refusal(compare(ours, facts)).splitlines()
    assert len(lines) == 3
    assert "EDITSERVE_OUTPUT_AREA" in lines[0] and "EDITSERVE_PREVIEW_AREA" in lines[1]
    assert lines[2] == (
        "Set them to match, or run 'editserve migrate --accept-settings' to change the "
        "cluster's values."
    )


def test_urls_are_shown_without_their_password() -> None:
    assert redact("postgresql://ed:s3cret@db:5432/x") == "postgresql://ed:***@db:5432/x"
    assert redact("postgresql://db/x?password=s3cret&sslmode=require") == (
        "postgresql://db/x?password=***&sslmode=require"
    )
    assert redact("sqlite:////var/lib/e.db") == "sqlite:////var/lib/e.db"


def test_an_unreachable_database_is_one_line_with_the_url_and_the_fix(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql://ed:s3cret@127.0.0.1:1/x")
    with pytest.raises(NodeRefused) as refused:
        open_store_checked(settings)
    message = str(refused.value)
    assert message.startswith("cannot open the database postgresql://ed:***@127.0.0.1:1/x: ")
    assert "s3cret" not in message and "\n" not in message
    assert "check EDITSERVE_DATABASE_URL" in message


def test_a_sqlite_file_that_cannot_be_made_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{blocker}/sub/e.db")
    with pytest.raises(NodeRefused, match="cannot open the database sqlite:///"):
        open_store_checked(settings)


def test_a_storage_folder_that_cannot_be_made_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "files"
    blocker.write_text("a file where the folder should be")
    settings = Settings(data_dir=tmp_path, storage_url=f"file://{blocker}")
    with pytest.raises(NodeRefused) as refused:
        open_storage_checked(settings)
    assert str(refused.value).startswith(f"cannot use the storage file://{blocker}: ")
    assert "EDITSERVE_STORAGE_URL" in str(refused.value)


def test_start_node_closes_the_store_it_opened_when_storage_refuses(tmp_path: Path) -> None:
    (tmp_path / "files").write_text("in the way")
    with pytest.raises(NodeRefused, match="storage"):
        start_node(Settings(data_dir=tmp_path), "api")
    node = start_node(Settings(data_dir=tmp_path, storage_url=f"file://{tmp_path}/ok"), "api")
    try:
        assert node.facts["cluster_id"].value.startswith("cl_")
        assert node.name.endswith(str(tmp_path.resolve()))
    finally:
        node.store.close()


def test_the_worker_command_refuses_a_differing_setting_before_loading(tmp_path: Path) -> None:
    runner = CliRunner()
    data = str(tmp_path / "data")
    first = runner.invoke(cli, ["migrate", "--data-dir", data, "--json"])
    assert first.exit_code == 0, first.output
    result = runner.invoke(
        cli, ["worker", "--device", "cpu", "--data-dir", data], env={"EDITSERVE_LIGHTNING": "8"}
    )
    assert result.exit_code == 1, result.output
    assert "setting EDITSERVE_LIGHTNING differs from the cluster's: this node 8, cluster off" in (
        result.output
    )
