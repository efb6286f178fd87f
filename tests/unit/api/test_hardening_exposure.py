"""Holding under abuse: what the open endpoints show. /docs runs under a strict
Content-Security-Policy (no inline script, nothing from elsewhere); /readyz and /metrics
show folders, library versions, failure reasons and host names only to a valid key or with
EDITSERVE_PUBLIC_DETAILS, while their numbers stay public; /healthz stays trivial."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from editserve.api.app import create_app
from editserve.core.settings import Settings
from editserve.services.keys import create_key
from editserve.store.rows import WorkerRow, WorkerState

MODEL = "qwen-image-edit-plus"
HOST = "gpu-box-17.corp.internal"
FOLDER = "/srv/secret-models/qwen-2509"


def seeded(tmp_path: Path, **overrides: Any) -> tuple[TestClient, str]:
    """An app whose store holds what a fleet reports: a ready worker that names its host
    and its weights' folder and library versions, a failed one, and a restart."""
    app = create_app(Settings(data_dir=tmp_path, **overrides))
    store = app.state.services.store
    now = time.time()
    weights = {
        "model": MODEL,
        "source": FOLDER,
        "revision": "0123abcd",
        "is_tiny": False,
        "device": "cuda:0",
        "dtype": "bfloat16",
        "details": {"versions": {"torch": "2.9.1", "diffusers": "0.36.0"}, "path": FOLDER},
    }
    store.upsert_worker(
        WorkerRow(
            f"{HOST}-4242", HOST, 4242, "cuda:0", WorkerState.READY, now, now,
            model=MODEL, weights=weights, swaps=3,
        )
    )  # fmt: skip
    store.upsert_worker(
        WorkerRow(
            f"{HOST}-4343", HOST, 4343, "cuda:1", WorkerState.FAILED, now, now,
            model=MODEL, error=f"could not read {FOLDER}/transformer: no such file",
        )
    )  # fmt: skip
    store.upsert_worker(
        WorkerRow(f"{HOST}-4141", HOST, 4141, "cuda:2", WorkerState.STOPPED, now, now)
    )
    store.record_worker_restart(f"{HOST}-4141")  # a replaced process
    key = create_key(store, "t").secret
    return TestClient(app), key


LEAKS = (HOST, FOLDER, "2.9.1", "0.36.0", "4242")


# --- /readyz -----------------------------------------------------------------------------------


def test_readyz_without_a_key_shows_the_state_not_the_paths_or_hosts(tmp_path: Path) -> None:
    client, _ = seeded(tmp_path)
    response = client.get("/readyz")
    assert response.status_code == 200
    for leak in LEAKS:
        assert leak not in response.text, leak
    ready = response.json()
    assert ready["status"] == "ready"
    model = ready["models"][MODEL]
    assert model["readiness"] == "ready" and model["loaded"] is True
    assert model["workers"]["ready"] == 1 and model["workers"]["failed"] == 1
    assert model["weights"] == {
        "model": MODEL, "is_tiny": False, "device": "cuda:0", "dtype": "bfloat16",
    }  # fmt: skip
    assert model["stage"] == "ready"
    assert model["worker_stages"] == [] and model["loaded_on"] == []
    # an invalid key is no key (a probe never gets a 401)
    bad = client.get("/readyz", headers={"Authorization": "Bearer es_not-a-key"})
    assert bad.status_code == 200 and bad.json() == ready


@pytest.mark.parametrize("how", ["key", "setting"])
def test_readyz_shows_the_details_to_a_key_or_with_the_setting(tmp_path: Path, how: str) -> None:
    client, key = seeded(tmp_path, public_details=how == "setting")
    headers = {"Authorization": f"Bearer {key}"} if how == "key" else {}
    response = client.get("/readyz", headers=headers)
    for detail in (HOST, FOLDER, "2.9.1"):
        assert detail in response.text, detail
    model = response.json()["models"][MODEL]
    assert model["weights"]["source"] == FOLDER
    assert {w["worker_id"] for w in model["worker_stages"]} == {f"{HOST}-4242", f"{HOST}-4343"}


def test_readyz_keeps_the_numbers_of_a_stage_in_progress(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    now = time.time()
    detail = {"bytes_done": 2_000_000, "bytes_total": 8_000_000, "waiting_for": f"{FOLDER}.lock"}
    app.state.services.store.upsert_worker(
        WorkerRow(
            f"{HOST}-1", HOST, 1, "cuda:0", WorkerState.LOADING, now, now, model=MODEL,
            stage="downloading", stage_detail=detail,
        )
    )  # fmt: skip
    response = TestClient(app).get("/readyz")
    assert response.status_code == 503 and FOLDER not in response.text
    model = response.json()["models"][MODEL]
    assert model["stage"] == "downloading"
    assert model["stage_detail"] == {"bytes_done": 2_000_000, "bytes_total": 8_000_000}
    assert model["stage_text"].startswith("downloading 2.0 MB of 8.0 MB")


def test_healthz_stays_trivial(tmp_path: Path) -> None:
    client, _ = seeded(tmp_path)
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


# --- /metrics ----------------------------------------------------------------------------------


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def test_metrics_without_a_key_keep_the_numbers_and_drop_host_labels(tmp_path: Path) -> None:
    client, key = seeded(tmp_path)
    public = client.get("/metrics")
    assert public.status_code == 200
    for leak in LEAKS:
        assert leak not in public.text, leak
    scraped = samples(public.text)  # a valid exposition Prometheus parses
    assert scraped["editserve_worker_restarts_total"] == [({}, 1.0)]
    assert scraped["editserve_model_swaps_total"] == [({}, 3.0)]
    loaded = scraped["editserve_model_loaded"]
    assert ({"model": MODEL, "device": "cuda:0"}, 1.0) in loaded
    assert all(set(labels) == {"model", "device"} for labels, _ in loaded)
    assert ({"state": "ready"}, 1.0) in scraped["editserve_workers"]

    private = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
    assert HOST in private.text
    detailed = samples(private.text)
    assert detailed["editserve_worker_restarts_total"] == [({"host": HOST}, 1.0)]
    assert ({"worker": f"{HOST}-4242"}, 3.0) in detailed["editserve_model_swaps_total"]
    for name in ("editserve_generations", "editserve_workers", "editserve_pruned_total"):
        assert detailed[name] == scraped[name], name  # the same numbers either way
    for name in ("editserve_model_loaded", "editserve_model_swaps_total"):  # summed
        assert sum(v for _, v in detailed[name]) == sum(v for _, v in scraped[name]), name


def test_metrics_show_hosts_to_all_with_the_setting(tmp_path: Path) -> None:
    client, _ = seeded(tmp_path, public_details=True)
    assert f'editserve_worker_restarts_total{{host="{HOST}"}} 1.0' in client.get("/metrics").text


# --- /docs -------------------------------------------------------------------------------------


def csp(response: Any) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:]) for part in policy.split(";") if part.strip()
    }


def test_docs_run_under_a_strict_content_security_policy(tmp_path: Path) -> None:
    client = TestClient(create_app(Settings(data_dir=tmp_path)))
    page = client.get("/docs")
    assert page.status_code == 200
    policy = csp(page)
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    # every script of the page is a file of this origin: none inline
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts and all('src="/docs/' in attrs and not code.strip() for attrs, code in scripts)
    for src in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert src.startswith("/docs/"), src
        assert client.get(src).status_code == 200, src
    init = client.get("/docs/init.js")
    assert init.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle(" in init.text and '"/openapi.json"' in init.text
    assert '"validatorUrl": null' in init.text  # no badge image from validator.swagger.io
