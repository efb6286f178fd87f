"""The cluster record on both stores (migration 009): facts recorded once and compared at
each node's start, one first key and one URL-signing secret for the whole cluster."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fixtures.store_targets import StoreTarget

from editserve.core.settings import Settings
from editserve.services.cluster.node import CLUSTER_ID, NodeRefused, agree_with_cluster
from editserve.services.cluster.secret import SIGNING_SECRET, cluster_signing_secret
from editserve.services.keys import create_key, ensure_first_key, new_key
from editserve.store import LastAdmin
from editserve.store.cluster import FIRST_KEY
from editserve.store.rows import SCOPES


def together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(0..count-1) in threads released at once; re-raise the first error."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def node_settings(target: StoreTarget, data_dir: Path, **values: Any) -> Settings:
    url = target.location if target.kind == "postgres" else f"sqlite:///{target.location}"
    return Settings(data_dir=data_dir, database_url=url, **values)


def test_facts_are_recorded_once_and_replaced_only_on_purpose(target: StoreTarget) -> None:
    store, other = target.open(), target.open()
    assert store.cluster_facts() == {}
    first = store.record_cluster_facts({"cluster_id": "cl_a", "setting.x": "1"}, "node-a")
    assert {name: fact.value for name, fact in first.items()} == {
        "cluster_id": "cl_a",
        "setting.x": "1",
    }
    assert first["setting.x"].recorded_by == "node-a" and first["setting.x"].recorded_at > 0
    later = other.record_cluster_facts({"cluster_id": "cl_b", "setting.y": "2"}, "node-b")
    assert later["cluster_id"].value == "cl_a" and later["cluster_id"].recorded_by == "node-a"
    assert later["setting.y"].value == "2" and later["setting.y"].recorded_by == "node-b"

    replaced = other.replace_cluster_facts({"setting.x": "3"}, "node-b")
    assert replaced["setting.x"].value == "3" and replaced["setting.x"].recorded_by == "node-b"
    assert store.cluster_facts()["setting.x"].value == "3"
    assert store.cluster_facts()["cluster_id"].value == "cl_a"


def test_nodes_recording_together_keep_one_nodes_values_never_a_mix(
    target: StoreTarget,
) -> None:
    stores = [target.open() for _ in range(4)]

    def record(index: int) -> dict[str, str]:
        facts = {"cluster_id": f"cl_{index}", **{f"setting.{n}": str(index) for n in "abcdef"}}
        recorded = stores[index].record_cluster_facts(facts, f"node-{index}")
        return {name: fact.value for name, fact in recorded.items()}

    seen = together(4, record)
    assert all(view == seen[0] for view in seen)
    winner = seen[0]["cluster_id"].removeprefix("cl_")
    assert {value for name, value in seen[0].items() if name != "cluster_id"} == {winner}


def test_exactly_one_node_makes_the_first_key(target: StoreTarget) -> None:
    stores = [target.open() for _ in range(4)]
    keys = [new_key("default") for _ in stores]
    made = together(4, lambda i: stores[i].create_first_key(keys[i].row, f"node-{i}"))
    assert made.count(True) == 1
    winner = made.index(True)
    assert stores[0].count_active_keys() == 1
    assert [row.id for row in stores[0].list_keys()] == [keys[winner].row.id]
    fact = stores[0].cluster_facts()[FIRST_KEY]
    assert (fact.value, fact.recorded_by) == (keys[winner].row.id, f"node-{winner}")


def revoke_all_keys(target: StoreTarget) -> None:
    sql = "UPDATE api_keys SET revoked_at = 1700000000 WHERE revoked_at IS NULL"
    if target.kind == "sqlite":
        with sqlite3.connect(target.location) as conn:
            conn.execute(sql)
        return
    with psycopg.connect(target.location, autocommit=True) as conn:
        conn.execute(sql)


def test_a_first_key_is_made_again_only_once_every_key_is_revoked(
    target: StoreTarget, tmp_path: Path
) -> None:
    store = target.open()
    first = ensure_first_key(store, tmp_path / "a", "node-a")
    assert first is not None
    assert (tmp_path / "a" / "api_key").read_text().strip() == first.secret
    assert ensure_first_key(target.open(), tmp_path / "b", "node-b") is None
    assert not (tmp_path / "b" / "api_key").exists()
    with pytest.raises(LastAdmin):  # the first key is the cluster's one admin (v12)
        store.revoke_key(first.row.id)
    ops = create_key(store, "ops", SCOPES)
    assert store.revoke_key(first.row.id)  # with another admin it goes
    assert ensure_first_key(store, tmp_path / "b", "node-b") is None  # ops is still active
    revoke_all_keys(target)  # what only the database can do now (the last admin stays)
    ops_now = store.get_key(ops.row.id)
    assert ops_now is not None and ops_now.revoked_at is not None
    again = ensure_first_key(store, tmp_path / "b", "node-b")  # as before the record
    assert again is not None and store.cluster_facts()[FIRST_KEY].value == again.row.id


def test_a_differing_setting_refuses_a_node_naming_both_values(
    target: StoreTarget, tmp_path: Path
) -> None:
    first = node_settings(target, tmp_path / "a", output_area=262144)
    facts, adopted = agree_with_cluster(target.open(), first, "api", "node-a")
    assert adopted == [] and facts["setting.output_area"].value == "262144"
    assert facts[CLUSTER_ID].value.startswith("cl_")
    same = node_settings(target, tmp_path / "b", output_area=262144)
    assert agree_with_cluster(target.open(), same, "worker", "node-b")[0] == facts

    other = node_settings(target, tmp_path / "c", output_area=1048576, lightning="4")
    with pytest.raises(NodeRefused) as refused:
        agree_with_cluster(target.open(), other, "worker", "node-c")
    message = str(refused.value)
    assert (
        "setting EDITSERVE_OUTPUT_AREA differs from the cluster's: this node 1048576, "
        "cluster 262144 (recorded " in message
    )
    assert "by node node-a" in message and "EDITSERVE_LIGHTNING" in message
    assert "editserve migrate --accept-settings" in message
    assert target.open().cluster_facts()["setting.output_area"].value == "262144"


def test_serve_on_sqlite_moves_the_record_but_an_api_node_on_postgres_is_refused(
    target: StoreTarget, tmp_path: Path
) -> None:
    agree_with_cluster(target.open(), node_settings(target, tmp_path / "a"), "api", "node-a")
    changed = node_settings(target, tmp_path / "a", preview_area=128 * 128)
    if target.kind == "postgres":
        with pytest.raises(NodeRefused, match="EDITSERVE_PREVIEW_AREA"):
            agree_with_cluster(target.open(), changed, "api", "node-a")
        return
    facts, adopted = agree_with_cluster(target.open(), changed, "api", "node-a")
    assert [m.env for m in adopted] == ["EDITSERVE_PREVIEW_AREA"]
    assert facts["setting.preview_area"].value == str(128 * 128)
    with pytest.raises(NodeRefused, match="EDITSERVE_PREVIEW_AREA"):  # a worker never moves it
        agree_with_cluster(target.open(), node_settings(target, tmp_path / "w"), "worker", "w")


def test_every_api_node_signs_with_one_secret_adopting_an_existing_one(
    target: StoreTarget, tmp_path: Path
) -> None:
    old = tmp_path / "old-node"
    old.mkdir()
    (old / "signing_secret").write_text("secret-of-the-first-server\n")
    nodes = [old, tmp_path / "new-1", tmp_path / "new-2"]
    secrets = together(
        3, lambda i: cluster_signing_secret(node_settings(target, nodes[i]), target.open())
    )
    assert len(set(secrets)) == 1
    recorded = target.open().cluster_facts()[SIGNING_SECRET].value.encode()
    assert secrets[0] == recorded
    later = cluster_signing_secret(node_settings(target, old), target.open())
    assert later == recorded
    configured = node_settings(target, tmp_path / "x", signing_secret="from-env")
    assert cluster_signing_secret(configured, target.open()) == b"from-env"


def test_an_existing_secret_file_is_kept_so_old_links_stay_valid(
    target: StoreTarget, tmp_path: Path
) -> None:
    (tmp_path / "signing_secret").write_text("abc123\n")
    assert cluster_signing_secret(node_settings(target, tmp_path), target.open()) == b"abc123"
