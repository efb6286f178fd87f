"""Many machines on one PostgreSQL: an API-only node and separate `editserve worker`
processes that share nothing but the database and the storage folder.

A worker killed mid-job (SIGKILL: no goodbye, no supervisor to release its lease) gives the
job back when its lease runs out, and another worker finishes it.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fixtures.e2e import edit_body, read_sse, wait_for
from fixtures.postgres import fresh_database, require_postgres
from fixtures.support import LiveServer, fast_server_env, make_png, start_server, stop_server

pytestmark = pytest.mark.slow

LONG = 100  # denoising steps of the job the worker is killed in
SLOW = {"EDITSERVE_OUTPUT_AREA": str(256 * 256)}  # each step takes long enough to act mid-run


@dataclass
class Cluster:
    database_url: str
    storage_url: str
    root: Path
    api: LiveServer


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path) -> Iterator[Cluster]:
    require_postgres()
    root = tmp_path_factory.mktemp("pg-cluster")
    storage_url = f"file://{root / 'shared-files'}"
    # An empty database: the processes that open it apply the migrations themselves.
    with fresh_database() as database_url:
        api = start_server(
            root / "api",
            wait_ready=False,  # no worker yet: /readyz says 503 until one has loaded
            EDITSERVE_DATABASE_URL=database_url,
            EDITSERVE_STORAGE_URL=storage_url,
            EDITSERVE_WORKERS="0",
            **SLOW,
        )
        try:
            yield Cluster(database_url, storage_url, root, api)
        finally:
            stop_server(api.process)


def start_worker(cluster: Cluster, name: str) -> subprocess.Popen[bytes]:
    """`editserve worker` as on a GPU host: its own data dir, the shared DB and storage."""
    data_dir = cluster.root / name
    data_dir.mkdir()
    env = {
        **os.environ,
        **fast_server_env(
            data_dir,
            EDITSERVE_DATABASE_URL=cluster.database_url,
            EDITSERVE_STORAGE_URL=cluster.storage_url,
            **SLOW,
        ),
    }
    log = open(data_dir / "worker.log", "wb")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        [sys.executable, "-m", "editserve", "worker", "--worker-id", name],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(client: httpx.Client, worker: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        assert worker.poll() is None, "the worker exited while loading"
        assert time.monotonic() < deadline, "no worker became ready"
        time.sleep(0.3)


def running_at_step(client: httpx.Client, gen_id: str, step: int = 2) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = client.get(f"/api/ai/queue/{gen_id}").json()
        if body["status"] == "processing" and (body["progress"] or {}).get("step", 0) >= step:
            return body
        assert body["status"] in {"queued", "processing"}, body
        time.sleep(0.05)
    raise AssertionError(f"{gen_id} never reached step {step}")


def uri() -> str:
    return "data:image/png;base64," + base64.b64encode(make_png()).decode()


def test_api_node_and_remote_workers_share_one_postgres(cluster: Cluster) -> None:
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with cluster.api.client() as client:
            assert client.get("/readyz").status_code == 503  # API only: nobody to run jobs
            workers.append(start_worker(cluster, "gpu-host-1"))
            wait_ready(client, workers[0])

            quick = client.post("/api/ai/queue", json=edit_body(uri())).json()
            done = wait_for(client, quick["generations"][0]["generation_id"])
            assert done["status"] == "succeeded", done
            # the worker wrote into the shared storage; the API node signs the link
            assert httpx.get(done["result_url"]).status_code == 200

            with client.stream("GET", "/api/events") as events:
                gen_id = client.post(
                    "/api/ai/queue", json=edit_body(uri(), num_inference_steps=LONG)
                ).json()["generations"][0]["generation_id"]
                running_at_step(client, gen_id)
                os.killpg(workers[0].pid, signal.SIGKILL)  # no requeue, no lease release
                workers[0].wait()
                workers.append(start_worker(cluster, "gpu-host-2"))
                frames = read_sse(
                    events,
                    lambda fs: any(
                        f.get("event") == "media_generation_completed"
                        and f["data"]["generation_id"] == gen_id
                        for f in fs
                    ),
                    timeout=300,
                )
            final = wait_for(client, gen_id)
        assert final["status"] == "succeeded", final
        assert final["attempts"] == 2  # the lease ran out and the job was claimed again
        assert httpx.get(final["result_url"]).status_code == 200
        started = [
            f["data"]
            for f in frames
            if f.get("event") == "media_generation_started" and f["data"]["generation_id"] == gen_id
        ]
        assert [s["attempt"] for s in started] == [1, 2]
        completed = frames[-1]["data"]  # fanned out from the worker's row to the API node
        assert completed["status"] == "succeeded" and completed["url"].startswith("http")
        assert not (cluster.api.data_dir / "editserve.db").exists()  # no SQLite anywhere
    finally:
        for worker in workers:
            stop_server(worker)  # same process-group shutdown as a server
