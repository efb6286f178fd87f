"""A shared fleet's keys over HTTP, in-process: scopes (GET and HEAD need read, the rest
submit, /api/admin/* admin; a 403 names the scope), and the admin API (/api/admin/keys,
/api/admin/audit): create, list, get, change and revoke keys, every change audited with
the admin's key id, the last admin key kept (409)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.fleet import MODEL, Fleet, auth, fleet_app, house_error

from editserve.domain.record import Status

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    with fleet_app(tmp_path) as made:
        yield made


# --- scopes ----------------------------------------------------------------------------------


def test_a_read_only_key_reads_but_may_not_enqueue(fleet: Fleet) -> None:
    reader_id, reader = fleet.key("reader", ("read",))
    detail = house_error(fleet.enqueue(reader), 403, "forbidden")
    assert "'submit' scope" in detail and "this key has: read" in detail
    assert fleet.store.count_active(reader_id) == 0  # nothing stored
    assert fleet.http.get("/api/ai/queue", headers=reader).status_code == 200
    assert fleet.http.get("/api/ai/usage", headers=reader).status_code == 200


def test_a_submit_only_key_enqueues_but_may_not_read(fleet: Fleet) -> None:
    submitter_id, submitter = fleet.key("submitter", ("submit",))
    enqueued = fleet.enqueue(submitter)
    assert enqueued.status_code == 200, enqueued.text
    assert fleet.store.count_active(submitter_id) == 1
    for path in ("/api/ai/queue", "/api/ai/generations", "/api/ai/usage"):
        detail = house_error(fleet.http.get(path, headers=submitter), 403, "forbidden")
        assert "'read' scope" in detail, path
    gen_id = enqueued.json()["generations"][0]["generation_id"]
    cancel = fleet.http.delete(f"/api/ai/queue/{gen_id}", headers=submitter)
    assert cancel.status_code != 403  # changing is submit's


def test_only_an_admin_key_reaches_the_admin_api(fleet: Fleet) -> None:
    calls = [
        ("GET", "/api/admin/keys", None),
        ("POST", "/api/admin/keys", {"name": "x"}),
        ("GET", f"/api/admin/keys/{fleet.user_id}", None),
        ("PATCH", f"/api/admin/keys/{fleet.user_id}", {"weight": 5}),
        ("DELETE", f"/api/admin/keys/{fleet.admin_id}", None),
        ("GET", "/api/admin/audit", None),
    ]
    for method, path, body in calls:
        refused = fleet.http.request(method, path, json=body, headers=fleet.user)
        assert "'admin' scope" in house_error(refused, 403, "forbidden"), path
        anonymous = fleet.http.request(method, path, json=body)
        house_error(anonymous, 401, "unauthenticated")
    assert [
        k["id"] for k in fleet.http.get("/api/admin/keys", headers=fleet.admin).json()["keys"]
    ].count(fleet.user_id) == 1
    user = fleet.store.get_key(fleet.user_id)
    assert user.weight == 1.0 and user.revoked_at is None  # nothing the refused calls did


def test_an_admin_only_key_may_do_everything(fleet: Fleet) -> None:
    root_id, root = fleet.key("root", ("admin",))
    assert fleet.enqueue(root).status_code == 200
    assert fleet.http.get("/api/ai/queue", headers=root).status_code == 200
    assert fleet.http.get("/api/admin/keys", headers=root).status_code == 200
    assert fleet.store.count_active(root_id) == 1


# --- the admin API ---------------------------------------------------------------------------


def test_create_list_get_use_change_and_revoke_a_key(fleet: Fleet) -> None:
    http, admin = fleet.http, fleet.admin
    created = http.post(
        "/api/admin/keys",
        json={"name": "team", "scopes": ["read", "submit"], "weight": 2, "max_running": 4},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    made = created.json()
    key_id, secret = made["id"], made["key"]
    assert secret.startswith("es_") and made["webhook_secret"].startswith("whsec_")
    assert made["scopes"] == ["submit", "read"] and made["weight"] == 2.0
    assert (made["max_running"], made["gpu_seconds_per_day"], made["revoked_at"]) == (4, None, None)
    assert fleet.enqueue(auth(secret)).status_code == 200  # the secret works as a Bearer key

    listed = http.get("/api/admin/keys", headers=admin)
    assert listed.status_code == 200
    ids = [k["id"] for k in listed.json()["keys"]]
    assert {key_id, fleet.admin_id, fleet.user_id} <= set(ids)
    assert secret not in listed.text and "key_hash" not in listed.text  # shown once
    shown = http.get(f"/api/admin/keys/{key_id}", headers=admin).json()
    assert shown["name"] == "team" and "key" not in shown and "webhook_secret" not in shown
    house_error(http.get("/api/admin/keys/key_nobody", headers=admin), 404, "resource_not_found")

    change = {
        "weight": 0.5,
        "max_running": 7,
        "gpu_seconds_per_day": 120,
        "scopes": ["read"],
        "webhook_url": "http://127.0.0.1:9/hook",
        "name": "team-b",
    }
    patched = http.patch(f"/api/admin/keys/{key_id}", json=change, headers=admin)
    assert patched.status_code == 200, patched.text
    assert {name: patched.json()[name] for name in change} == change
    assert http.get(f"/api/admin/keys/{key_id}", headers=admin).json() == patched.json()
    cleared = http.patch(
        f"/api/admin/keys/{key_id}", json={"max_running": None, "gpu_seconds_per_day": None},
        headers=admin,
    )  # fmt: skip
    assert (cleared.json()["max_running"], cleared.json()["gpu_seconds_per_day"]) == (None, None)
    assert cleared.json()["weight"] == 0.5  # what the change did not name stays
    # its scopes are now read only: it may no longer enqueue
    assert "'submit' scope" in house_error(fleet.enqueue(auth(secret)), 403, "forbidden")

    revoked = http.delete(f"/api/admin/keys/{key_id}", headers=admin)
    assert revoked.status_code == 200 and revoked.json() == {"id": key_id, "revoked": True}
    house_error(http.get("/api/ai/queue", headers=auth(secret)), 401, "unauthenticated")
    assert http.get(f"/api/admin/keys/{key_id}", headers=admin).json()["revoked_at"] is not None
    house_error(http.delete(f"/api/admin/keys/{key_id}", headers=admin), 404, "resource_not_found")
    gone = http.patch(f"/api/admin/keys/{key_id}", json={"weight": 3}, headers=admin)
    house_error(gone, 404, "resource_not_found")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"color": "red"}, "color: unknown field"),
        ({"weight": 0}, "weight:"),
        ({"weight": -1}, "weight:"),
        ({"max_running": 0}, "max_running:"),
        ({"gpu_seconds_per_day": 0}, "gpu_seconds_per_day:"),
        ({"scopes": ["root"]}, "unknown scope 'root'"),
        ({"scopes": []}, "scopes:"),
        ({"name": None}, "name: cannot be null"),
        ({"weight": None}, "weight: cannot be null"),
        ({}, "body:"),
        ({"webhook_url": "ftp://127.0.0.1/x"}, "webhook_url:"),
    ],
)
def test_a_bad_change_is_a_400_naming_the_field(fleet: Fleet, body: object, named: str) -> None:
    before = fleet.store.get_key(fleet.user_id)
    path = f"/api/admin/keys/{fleet.user_id}"
    detail = house_error(
        fleet.http.patch(path, json=body, headers=fleet.admin), 400, "invalid_params"
    )
    assert named in detail, detail
    assert fleet.store.get_key(fleet.user_id) == before
    assert fleet.store.audit_log(fleet.user_id) == []


def test_a_bad_new_key_is_a_400_and_nothing_is_made(fleet: Fleet) -> None:
    before = len(fleet.store.list_keys())
    for body, named in (({}, "name: required"), ({"name": "x", "weight": 0}, "weight:")):
        response = fleet.http.post("/api/admin/keys", json=body, headers=fleet.admin)
        assert named in house_error(response, 400, "invalid_params")
    assert len(fleet.store.list_keys()) == before


def test_the_last_admin_key_is_kept_409(fleet: Fleet) -> None:
    http, admin, own = fleet.http, fleet.admin, f"/api/admin/keys/{fleet.admin_id}"
    assert "last admin key" in house_error(http.delete(own, headers=admin), 409, "conflict")
    demote = http.patch(own, json={"scopes": ["read", "submit"]}, headers=admin)
    assert "last admin key" in house_error(demote, 409, "conflict")
    assert http.get(own, headers=admin).json()["scopes"] == ["admin", "submit", "read"]
    # with a second admin, the first may go (and the second is then the last)
    second = http.post(
        "/api/admin/keys", json={"name": "ops-2", "scopes": ["admin"]}, headers=admin
    )
    other = auth(second.json()["key"])
    assert http.delete(own, headers=other).status_code == 200
    last = f"/api/admin/keys/{second.json()['id']}"
    house_error(http.delete(last, headers=other), 409, "conflict")


def test_the_audit_log_lists_the_changes_with_the_admin_as_actor(fleet: Fleet) -> None:
    http, admin = fleet.http, fleet.admin
    made = http.post("/api/admin/keys", json={"name": "audited"}, headers=admin).json()
    path = f"/api/admin/keys/{made['id']}"
    http.patch(path, json={"weight": 3}, headers=admin)
    http.patch(path, json={"gpu_seconds_per_day": 10, "max_running": 2}, headers=admin)
    http.delete(path, headers=admin)

    page = http.get("/api/admin/audit", params={"key_id": made["id"]}, headers=admin)
    assert page.status_code == 200, page.text
    entries = page.json()["entries"]
    assert [(e["action"], e["actor"], e["key_id"]) for e in entries] == [
        ("revoke", fleet.admin_id, made["id"]),
        ("update", fleet.admin_id, made["id"]),
        ("update", fleet.admin_id, made["id"]),
        ("create", fleet.admin_id, made["id"]),
    ]
    assert entries[1]["detail"] == {"gpu_seconds_per_day": 10, "max_running": 2}
    assert entries[2]["detail"] == {"weight": 3}
    assert entries[3]["detail"]["name"] == "audited" and made["key"] not in page.text
    assert page.json()["next_before"] is None

    first = http.get("/api/admin/audit", params={"limit": 2}, headers=admin).json()
    assert [e["seq"] for e in first["entries"]] == [e["seq"] for e in entries[:2]]
    assert first["next_before"] == entries[1]["seq"]
    rest = http.get(
        "/api/admin/audit", params={"before": first["next_before"]}, headers=admin
    ).json()
    assert [e["seq"] for e in rest["entries"]] == [e["seq"] for e in entries[2:]]
    for limit in (0, 1001):
        bad = http.get("/api/admin/audit", params={"limit": limit}, headers=admin)
        assert "limit:" in house_error(bad, 400, "invalid_params")


# --- the fair order, through the API -----------------------------------------------------------


def test_a_backlog_queued_before_the_first_run_is_charged_as_later_jobs(fleet: Fleet) -> None:
    """A's backlog is queued before any run finished, B's jobs after a slow first run: each
    job is charged by its steps and megapixels, not the model's speed measured in between
    (charged at the speed measured at each enqueue, B's jobs were priced in another unit
    than A's: all of them went first here, and on a real server B waited behind A's whole
    backlog: tests/e2e/test_fair_share_e2e.py)."""
    worker, store = fleet.server.worker, fleet.store
    b_id, b = fleet.key("b", ("submit", "read"))
    for _ in range(12):
        assert fleet.enqueue(fleet.user, num_inference_steps=2).status_code == 200
    first = worker.claim()
    worker.progress(first, 2, 2)
    time.sleep(0.3)  # a run far slower than the nominal rate for its pixels
    assert store.finish(first, worker.worker_id, Status.SUCCEEDED, gpu_seconds=0.3)
    assert store.recent_step_seconds(MODEL) is not None  # the model now has a speed
    for _ in range(3):
        assert fleet.enqueue(b, num_inference_steps=2).status_code == 200
    order = []
    while (gen := worker.claim()) is not None:
        order.append(gen.owner)
        assert store.finish(gen, worker.worker_id, Status.SUCCEEDED)
    assert order.count(b_id) == 3 and len(order) == 14
    b_at = [index for index, owner in enumerate(order) if owner == b_id]
    assert b_at == [1, 3, 5], order  # one of A's jobs before each of B's
