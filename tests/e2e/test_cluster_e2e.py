"""Many machines, all real processes: PostgreSQL, an S3-compatible server (moto), two
API-only nodes (A, B) and two `editserve worker` processes, sharing nothing but the database,
the bucket and the signing secret.

Proven here: jobs enqueued on A complete on the workers and B's event stream carries them;
a worker SIGKILLed mid-job loses nothing (the other finishes it after the lease); B killed
mid-stream and started again is rejoined with Last-Event-ID, with no event missed or
repeated; inputs and outputs are objects in the bucket and no node keeps a file of them;
result URLs from either node give the image.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fixtures.e2e import edit_body, read_sse, wait_for
from fixtures.postgres import fresh_database, require_postgres
from fixtures.s3 import S3Server
from fixtures.support import LiveServer, fast_server_env, make_png, start_server, stop_server
from PIL import Image

pytestmark = pytest.mark.slow

PREFIX = "cluster"  # the bucket is shared: this cluster's objects live under a prefix
LONG = 80  # denoising steps of the job whose worker is killed
# the same for every node (settings that must agree); big enough that a step takes a while
SHARED = {
    "EDITSERVE_OUTPUT_AREA": str(256 * 256),
    "EDITSERVE_SIGNING_SECRET": "cluster-e2e-shared-signing-secret",
    "EDITSERVE_LEASE_SECONDS": "6",
}
WORKERS = ("gpu-1", "gpu-2")


@dataclass
class Cluster:
    root: Path
    database_url: str
    s3: S3Server
    bucket: str
    env: dict[str, str]
    api_a: LiveServer
    api_b: LiveServer
    workers: dict[str, subprocess.Popen[bytes]]

    def db(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return list(conn.execute(query, args).fetchall())

    def bucket_keys(self) -> set[str]:
        return set(self.s3.list_keys(self.bucket, PREFIX + "/"))

    def runs(self, gen_id: str) -> list[tuple[int, str]]:
        """(attempt, worker) for each time a worker took the job, as its log says."""
        found = []
        for name in WORKERS:
            log = (self.root / name / "worker.log").read_text(errors="replace")
            pattern = rf"worker {name}: running {gen_id} \(attempt (\d+)\)"
            found += [(int(m.group(1)), name) for m in re.finditer(pattern, log)]
        return sorted(found)


def start_api(root: Path, name: str, env: dict[str, str]) -> LiveServer:
    return start_server(root / name, wait_ready=False, EDITSERVE_WORKERS="0", **env)


def start_worker(root: Path, name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`editserve worker` as on a GPU host: its own data dir, the shared DB and bucket."""
    data_dir = root / name
    data_dir.mkdir(exist_ok=True)
    log = open(data_dir / "worker.log", "wb")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        [sys.executable, "-m", "editserve", "worker", "--worker-id", name],
        env={**os.environ, **fast_server_env(data_dir, **env)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_workers_ready(cluster: Cluster, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while True:
        rows = cluster.db("SELECT id FROM workers WHERE state IN ('ready', 'busy')")
        if {row[0] for row in rows} >= set(WORKERS):
            return
        for name, worker in cluster.workers.items():
            log = (cluster.root / name / "worker.log").read_text(errors="replace")
            assert worker.poll() is None, f"worker {name} exited while loading:\n{log}"
        assert time.monotonic() < deadline, f"workers not ready: {rows}"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path, s3_server: S3Server
) -> Iterator[Cluster]:
    require_postgres()
    root = tmp_path_factory.mktemp("cluster")
    bucket = s3_server.create_bucket()  # before any node starts: nodes check it at start-up
    with fresh_database() as database_url:  # empty: the first node migrates it
        env = {
            **SHARED,
            **s3_server.env(),
            "EDITSERVE_DATABASE_URL": database_url,
            "EDITSERVE_STORAGE_URL": f"s3://{bucket}/{PREFIX}",
        }
        processes: list[subprocess.Popen[bytes]] = []
        try:
            api_a = start_api(root, "api-a", env)
            processes.append(api_a.process)
            # one cluster, one key: B answers to the key A made first
            (root / "api-b").mkdir()
            shutil.copy(api_a.data_dir / "api_key", root / "api-b" / "api_key")
            api_b = start_api(root, "api-b", env)
            processes.append(api_b.process)
            workers = {name: start_worker(root, name, env) for name in WORKERS}
            processes.extend(workers.values())
            made = Cluster(root, database_url, s3_server, bucket, env, api_a, api_b, workers)
            wait_workers_ready(made)
            yield made
            processes.extend([made.api_b.process])  # B may have been started again
        finally:
            for process in processes:
                stop_server(process)


def uri(color: tuple[int, int, int]) -> str:
    png = make_png(color=color)
    return "data:image/png;base64," + base64.b64encode(png).decode()


def enqueue(client: httpx.Client, color: tuple[int, int, int], **params: Any) -> str:
    response = client.post("/api/ai/queue", json=edit_body(uri(color), **params))
    assert response.status_code == 200, response.text
    return str(response.json()["generations"][0]["generation_id"])


def assert_image(url: str) -> None:
    """The result link, fetched as a browser would: no key, redirects followed."""
    response = httpx.get(url, follow_redirects=True, timeout=30)
    assert response.status_code == 200, (url, response.status_code, response.text[:200])
    image = Image.open(io.BytesIO(response.content))
    image.load()
    assert image.width > 0 and image.height > 0


def completed(frames: list[dict[str, Any]], gen_ids: set[str]) -> set[str]:
    return {
        f["data"]["generation_id"]
        for f in frames
        if f.get("event") == "media_generation_completed" and f["data"]["generation_id"] in gen_ids
    }


def assert_in_bucket_not_on_disk(cluster: Cluster, gen_ids: list[str]) -> None:
    keys = cluster.bucket_keys()
    rows = cluster.db(
        "SELECT id, result_key, inputs FROM generations WHERE id = ANY(%s)", list(gen_ids)
    )
    assert len(rows) == len(gen_ids)
    blob_names = set()
    for gen_id, result_key, inputs in rows:
        assert result_key and f"{PREFIX}/{result_key}" in keys, (gen_id, result_key)
        input_keys = [item["key"] for item in json.loads(inputs)]
        assert input_keys, gen_id
        assert {f"{PREFIX}/{key}" for key in input_keys} <= keys
        blob_names |= {Path(key).name for key in [result_key, *input_keys]}
    for name in ("api-a", "api-b", *WORKERS):
        files = cluster.root / name / "files"  # where a node's own storage folder would be
        assert not files.exists() or not any(p.is_file() for p in files.rglob("*")), name
        on_disk = {p.name for p in (cluster.root / name).rglob("*") if p.is_file()}
        assert not on_disk & blob_names, (name, on_disk & blob_names)


def test_jobs_from_a_run_on_the_workers_and_stream_on_b(cluster: Cluster) -> None:
    with cluster.api_a.client() as a, cluster.api_b.client() as b:
        with b.stream("GET", "/api/events") as events:
            colors = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40)]
            gen_ids = [enqueue(a, color) for color in colors]
            frames = read_sse(events, lambda fs: completed(fs, set(gen_ids)) == set(gen_ids))
        ids = [f["id"] for f in frames if "id" in f]
        assert ids == sorted(set(ids))  # in order, none twice
        for gen_id in gen_ids:
            done = wait_for(a, gen_id)
            assert done["status"] == "succeeded", done
            assert_image(done["result_url"])  # A's answer
            from_b = b.get(f"/api/ai/queue/{gen_id}").json()
            assert from_b["status"] == "succeeded"
            assert_image(from_b["result_url"])  # B's answer
    for gen_id in gen_ids:  # each ran once, on one of the two workers
        assert [attempt for attempt, _ in cluster.runs(gen_id)] == [1], cluster.runs(gen_id)
    assert_in_bucket_not_on_disk(cluster, gen_ids)


def running_at_step(client: httpx.Client, gen_id: str, step: int = 2) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = client.get(f"/api/ai/queue/{gen_id}").json()
        if body["status"] == "processing" and (body["progress"] or {}).get("step", 0) >= step:
            return
        assert body["status"] in {"queued", "processing"}, body
        time.sleep(0.05)
    raise AssertionError(f"{gen_id} never reached step {step}")


def same_event(frame: dict[str, Any]) -> tuple[Any, ...]:
    """What two nodes must agree on for one event (links are signed per answer)."""
    data = {k: v for k, v in frame["data"].items() if k != "url"}
    return frame["id"], frame["event"], sorted(data.items(), key=lambda kv: kv[0])


def assert_as_replayed_by(a: httpx.Client, frames: list[dict[str, Any]]) -> None:
    """The truth: A, which never went down, replays the same span from the same point."""
    ids = [f["id"] for f in frames]
    with a.stream("GET", "/api/events", headers={"Last-Event-ID": str(ids[0] - 1)}) as replay:
        truth = read_sse(replay, lambda fs: any(f.get("id", 0) >= ids[-1] for f in fs))
    truth = [f for f in truth if "id" in f]
    assert [same_event(f) for f in frames] == [same_event(f) for f in truth], "events missed"


def test_killed_worker_and_restarted_api_node_lose_nothing(cluster: Cluster) -> None:
    a = cluster.api_a.client()
    b = cluster.api_b.client()
    with b.stream("GET", "/api/events") as events:
        long_id = enqueue(a, (10, 120, 220), num_inference_steps=LONG)
        running_at_step(a, long_id)
        first = read_sse(
            events,
            lambda fs: any(
                f.get("event") == "media_generation_started"
                and f["data"]["generation_id"] == long_id
                for f in fs
            ),
        )
        # API node B dies mid-stream; so does the worker running the long job
        os.killpg(cluster.api_b.process.pid, signal.SIGKILL)
        cluster.api_b.process.wait()
    b.close()
    (victim,) = cluster.db("SELECT worker_id FROM generations WHERE id = %s", long_id)[0]
    survivor = next(name for name in WORKERS if name != victim)
    os.killpg(cluster.workers[victim].pid, signal.SIGKILL)  # no goodbye, no lease release
    cluster.workers[victim].wait()
    quick_id = enqueue(a, (220, 120, 10))  # runs and ends while B is down
    assert wait_for(a, quick_id)["status"] == "succeeded"
    (written_while_down,) = cluster.db("SELECT max(id) FROM events")[0]

    seen = [f for f in first if "id" in f]
    assert written_while_down > seen[-1]["id"]
    cluster.api_b = start_api(cluster.root, "api-b", cluster.env)  # same node, started again
    with (
        cluster.api_b.client() as b2,
        b2.stream("GET", "/api/events", headers={"Last-Event-ID": str(seen[-1]["id"])}) as again,
    ):
        rest = read_sse(
            again, lambda fs: completed(fs, {long_id, quick_id}) == {long_id, quick_id}, 300
        )
    rest = [f for f in rest if "id" in f]
    both = seen + rest
    ids = [f["id"] for f in both]
    assert len(ids) == len(set(ids)), "an event came twice"
    assert written_while_down in ids  # B's client got what happened while B was down

    assert_as_replayed_by(a, both)

    started = [
        f["data"]["attempt"]
        for f in both
        if f["event"] == "media_generation_started" and f["data"]["generation_id"] == long_id
    ]
    assert started == [1, 2]  # the lease ran out and the other worker took the job
    final = wait_for(a, long_id)
    assert final["status"] == "succeeded" and final["attempts"] == 2, final
    quick = wait_for(a, quick_id)
    assert quick["status"] == "succeeded", quick
    assert cluster.runs(long_id) == [(1, victim), (2, survivor)]
    assert cluster.runs(quick_id) == [(1, survivor)]
    # The receipt says the same to API clients: who ran the result, on which attempt.
    assert (final["receipt"]["worker_id"], final["receipt"]["attempt"]) == (survivor, 2)
    assert (quick["receipt"]["worker_id"], quick["receipt"]["attempt"]) == (survivor, 1)
    with cluster.api_b.client() as b3:
        for gen_id in (long_id, quick_id):
            assert_image(b3.get(f"/api/ai/queue/{gen_id}").json()["result_url"])
            assert_image(a.get(f"/api/ai/queue/{gen_id}").json()["result_url"])
    a.close()
    assert_in_bucket_not_on_disk(cluster, [long_id, quick_id])
