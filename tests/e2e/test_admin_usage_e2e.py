"""The admin API and usage through the Python client and the CLI, against a real
`editserve serve` (tiny weights): the first key (admin) makes a submit,read key over HTTP;
that key may not manage keys, runs one generation, and sees it in its usage."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from typing import Any

import pytest
from fixtures.support import make_png

from editserve.client import AuthenticationError, Client, PermissionDenied

pytestmark = pytest.mark.slow


def cli(*args: str, key: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDITSERVE_URL": url, "EDITSERVE_API_KEY": key}
    return subprocess.run(
        [sys.executable, "-m", "editserve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_new_key_runs_once_and_sees_it_in_its_usage(live_server: Any) -> None:
    url = live_server.base_url
    with Client(url, live_server.api_key, timeout=30) as admin:
        made = admin.admin.keys.create("e2e-usage", scopes="submit,read", max_running=5)
        assert made.key is not None and made.key.startswith("es_")
        assert made.webhook_secret is not None and made.webhook_secret.startswith("whsec_")
        assert sorted(made.scopes) == ["read", "submit"] and made.max_running == 5
        assert made.id in [k.id for k in admin.admin.keys.list()]
        assert admin.admin.keys.get(made.id).name == "e2e-usage"

    with Client(url, made.key, timeout=30) as client:
        with pytest.raises(PermissionDenied) as caught:
            client.admin.keys.list()
        assert caught.value.status == 403 and "admin" in caught.value.detail
        with pytest.raises(PermissionDenied):
            client.usage.get(key="all")
        assert client.usage.get().total.generations == 0

        result = client.images.edit(
            prompt="Add a hat", input_image=make_png(), num_inference_steps=2, timeout=120
        )
        today = dt.datetime.now(dt.UTC).date().isoformat()
        report = client.usage.get()

    assert report.key == made.id and report.group_by == "day"
    assert report.total.generations == 1 and report.total.succeeded == 1
    assert report.total.gpu_seconds > 0
    expected_mp = result.width * result.height / 1e6
    assert report.total.output_megapixels == pytest.approx(expected_mp, rel=1e-3)
    [row] = report.rows
    assert row.group == today and row.generations == 1 and row.gpu_seconds > 0
    assert report.quotas is not None
    assert report.quotas.max_running == 5 and report.quotas.running == 0
    assert report.quotas.gpu_seconds_last_24h == pytest.approx(report.total.gpu_seconds)

    done = cli("usage", key=made.key, url=url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"Usage of {made.id} from ")
    today_row = next(line.split() for line in lines if line.startswith(today))
    assert today_row[1:3] == ["1", "1"] and float(today_row[3]) > 0
    assert lines[-1].startswith("Quotas: running 0 of 5, GPU-seconds in the last 24 h ")


def test_admin_sees_every_key_changes_one_and_revokes_it(live_server: Any) -> None:
    url = live_server.base_url
    with Client(url, live_server.api_key, timeout=30) as admin:
        made = admin.admin.keys.create("e2e-admin")
        assert sorted(made.scopes) == ["read", "submit"]  # the default
        changed = admin.admin.keys.update(made, weight=2.5, gpu_seconds_per_day=60)
        assert changed.weight == 2.5 and changed.gpu_seconds_per_day == 60
        cleared = admin.admin.keys.update(made, gpu_seconds_per_day=None)
        assert cleared.gpu_seconds_per_day is None

        page = admin.admin.audit(key_id=made.id)
        assert [e.action for e in page] == ["update", "update", "create"]
        assert page.entries[1].detail == {"weight": 2.5, "gpu_seconds_per_day": 60}

        by_key = admin.usage.get(group_by="key", key="all")
        assert by_key.key == "all" and by_key.quotas is None

        assert admin.admin.keys.revoke(made) is True
        assert admin.admin.keys.get(made.id).revoked

    assert made.key is not None
    with Client(url, made.key, timeout=30) as gone, pytest.raises(AuthenticationError) as caught:
        gone.usage.get()
    assert caught.value.status == 401

    done = cli("admin", "keys", "list", key=live_server.api_key, url=url)
    assert done.returncode == 0, done.stderr
    row = next(line.split() for line in done.stdout.splitlines() if line.startswith(made.id))
    assert row[-1] == "revoked"
    denied = cli("admin", "keys", "list", key="es_" + "0" * 40, url=url)
    assert denied.returncode == 3
