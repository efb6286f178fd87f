"""Numbers past what the database holds are a 400 naming the parameter, never a 500 (the
fuzz test found GET /api/admin/audit?before=<2^66> answered 500)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from editserve.api.app import create_app
from editserve.core.settings import Settings
from editserve.services.keys import create_key
from editserve.store.rows import SCOPES


def test_out_of_range_numbers_are_named_400s(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    admin = create_key(app.state.services.store, "admin", SCOPES).secret
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {admin}"}
    for query, name in (
        ("before=84841402850262859776", "before"),
        ("limit=5000", "limit"),
        ("before=0", "before"),
    ):
        answer = client.get(f"/api/admin/audit?{query}", headers=headers)
        assert answer.status_code == 400, (query, answer.text)
        assert name in answer.json()["error"]["detail"]
    for query, name in (
        ("to=1e30", "to"),
        ("to=99999999999999999999", "to"),
        ("from=99999999999999999999", "from"),
    ):
        answer = client.get(f"/api/ai/usage?{query}", headers=headers)
        assert answer.status_code == 400, (query, answer.text)
        assert answer.json()["error"]["detail"].startswith(f"{name}:")
    assert client.get("/api/ai/usage?to=2026-12-06", headers=headers).status_code == 200
