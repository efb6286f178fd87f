"""Faults of the processes around a real server: the database going away mid-run, and a
worker hung inside the pipeline.

PostgreSQL "restarted": the machine's PostgreSQL is shared, so instead a TCP proxy in this
test stands between editserve and it; cutting the proxy (every connection closed, new ones
refused for a few seconds) is what a restart looks like to the clients. The API and the
worker must reconnect by themselves, and every generation must end exactly once.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from fixtures.e2e import TERMINAL, edit_body
from fixtures.postgres import fresh_database, require_postgres
from fixtures.support import LiveServer, free_port, make_png, start_server, stop_server

pytestmark = pytest.mark.slow


class TcpProxy:
    """127.0.0.1:<port> -> target, in threads; `cut()` drops every connection and refuses
    new ones (closes the listener) until `restore()`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self.cuts = 0

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._accepting.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by cut()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.cuts += 1
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self.start()

    def url_for(self, url: str) -> str:
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        return urlunsplit(
            parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host)
        )


@pytest.fixture
def proxied(tmp_path: Path, tiny_weights: Path) -> Iterator[tuple[LiveServer, TcpProxy, str]]:
    require_postgres()
    with fresh_database() as database_url:
        parts = urlsplit(database_url)
        proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
        proxy.start()
        server = start_server(
            tmp_path / "server",
            EDITSERVE_DATABASE_URL=proxy.url_for(database_url),
            EDITSERVE_LEASE_SECONDS="4",
            EDITSERVE_MAX_ATTEMPTS="5",
        )
        try:
            yield server, proxy, database_url
        finally:
            stop_server(server.process)
            proxy.cut()


def uri() -> str:
    return "data:image/png;base64," + base64.b64encode(make_png()).decode()


def get_tolerant(client: httpx.Client, path: str) -> httpx.Response | None:
    """A GET that may meet the outage: a 503 or a dropped connection is None."""
    try:
        response = client.get(path)
    except httpx.TransportError:
        return None
    if response.status_code >= 500:
        assert response.status_code == 503, response.text  # the documented "try again"
        assert response.json()["error"]["type"] == "unavailable", response.text
        return None
    return response


def test_postgres_restarted_mid_run_loses_and_duplicates_nothing(
    proxied: tuple[LiveServer, TcpProxy, str],
) -> None:
    server, proxy, database_url = proxied
    with server.client() as client:
        response = client.post(
            "/api/ai/queue", json=edit_body(uri(), num_generations=4, num_inference_steps=12)
        )
        assert response.status_code == 200, response.text
        ids = [g["generation_id"] for g in response.json()["generations"]]
        deadline = time.monotonic() + 120
        while True:  # one is running: cut mid-run
            body = client.get(f"/api/ai/queue/{ids[0]}").json()
            if (body.get("progress") or {}).get("step", 0) >= 1:
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.05)
        proxy.cut()
        during = get_tolerant(client, f"/api/ai/queue/{ids[0]}")
        time.sleep(5)  # down longer than a lease
        proxy.restore()
        # the API reconnects by itself; then every generation ends
        final: dict[str, dict] = {}
        deadline = time.monotonic() + 240
        while len(final) < len(ids):
            assert time.monotonic() < deadline, f"not all ended: {final.keys()}"
            for gen_id in ids:
                got = get_tolerant(client, f"/api/ai/queue/{gen_id}")
                if got is not None and got.json()["status"] in TERMINAL:
                    final[gen_id] = got.json()
            time.sleep(0.3)
        # after the outage, new work runs too
        again = client.post("/api/ai/queue", json=edit_body(uri()))
        assert again.status_code == 200, again.text
    assert during is None or during.status_code == 200
    assert {gen_id: body["status"] for gen_id, body in final.items()} == dict.fromkeys(
        ids, "succeeded"
    ), final
    for body in final.values():
        assert httpx.get(body["result_url"]).status_code == 200
    # nothing duplicated: one row each, and one completion event each
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT id, status FROM generations WHERE id = ANY(%s)", (ids,)
        ).fetchall()
        completed = conn.execute(
            "SELECT generation_id, COUNT(*) FROM events WHERE type = %s "
            "AND generation_id = ANY(%s) GROUP BY generation_id",
            ("media_generation_completed", ids),
        ).fetchall()
    assert sorted(r[0] for r in rows) == sorted(ids)
    assert dict(completed) == dict.fromkeys(ids, 1)
    assert server.process.poll() is None
    assert "Connection refused" in server.log()  # the cut reached editserve's connections


# --- a worker hung inside the pipeline ---------------------------------------------------------
# Loaded into the server's processes (PYTHONPATH, inherited by the workers it starts): a
# generation whose prompt says HANG stops inside its second step on its first attempt, as a
# pipeline stuck in a native call does; only the watchdog can end it.
HANG_HOOK = """
import time

from editserve.worker import batch

_on_step = batch.BatchRun._on_step


def _hanging_on_step(self, step, total):
    gen = self.batch.gens[0]
    if "HANG" in str(gen.params.get("prompt")) and gen.attempts == 1 and step >= 2:
        time.sleep(3600)
    return _on_step(self, step, total)


batch.BatchRun._on_step = _hanging_on_step
"""


def test_a_hung_worker_is_replaced_and_its_job_runs_again_counted(
    tmp_path: Path, tiny_weights: Path
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(HANG_HOOK)
    server = start_server(
        tmp_path / "server",
        PYTHONPATH=str(hooks),
        EDITSERVE_STEP_TIMEOUT_SECONDS="2",
        EDITSERVE_LEASE_SECONDS="30",  # the job comes back by the supervisor, not the lease
    )
    try:
        with server.client() as client:
            (first_worker,) = server.worker_pids()
            gen_id = client.post(
                "/api/ai/queue", json=edit_body(uri(), prompt="HANG please", num_inference_steps=4)
            ).json()["generations"][0]["generation_id"]
            deadline = time.monotonic() + 180
            while True:
                body = client.get(f"/api/ai/queue/{gen_id}").json()
                if body["status"] in TERMINAL:
                    break
                assert time.monotonic() < deadline, body
                time.sleep(0.2)
            assert body["status"] == "succeeded", body
            assert body["attempts"] == 2, body  # the hung attempt counted
            assert first_worker not in server.worker_pids()  # replaced
            metrics = client.get("/metrics").text
        assert "exited with code 4 (its watchdog: no step progress)" in server.log()
        restarts = [
            line
            for line in metrics.splitlines()
            if line.startswith("editserve_worker_restarts_total")
        ]
        assert len(restarts) == 1 and restarts[0].endswith(" 1.0"), restarts
    finally:
        stop_server(server.process)
