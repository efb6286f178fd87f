"""``editserve batch`` against the real app in-process (a fake worker finishing items
through the store): a folder run ends with outputs named after their sources and a
manifest; interrupted anywhere (while uploading, right after the submission, while
waiting) and run again, it finishes with every item submitted exactly once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fixtures.inprocess_app import BASE, OUTPUT, App, SyncASGITransport, png

from editserve.client import Client, commands
from editserve.client._batches import Batches
from editserve.client._listings import Uploads
from editserve.client.commands._batch_state import STATE_FILE
from editserve.commands.main import main


class Worker:
    """Finishes queued items in a thread (fails those whose prompt says so) until stopped."""

    def __init__(self, server: App) -> None:
        self.server = server
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.error: BaseException | None = None

    def _loop(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # noqa: BLE001 - the test sees it, not a silent hang
            self.error = exc

    def _work(self) -> None:
        while not self.stop.is_set():
            gen = self.server.worker.claim()
            if gen is None:
                time.sleep(0.01)
            elif "fail" in str(gen.params.get("prompt")):
                self.server.worker.fail(gen, "the tiny model exploded")
            else:
                self.server.worker.succeed(gen, self.server.services.storage, OUTPUT)

    def __enter__(self) -> Worker:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(5)
        assert self.error is None, self.error


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    server = App(tmp_path / "server")
    transports: list[SyncASGITransport] = []

    def factory(url: str | None, api_key: str | None, **kwargs: Any) -> Client:
        transports.append(SyncASGITransport(server.app))
        return Client(BASE, server.key, transport=transports[-1], timeout=10, **kwargs)

    monkeypatch.setattr(commands, "client_factory", factory)
    yield server
    for transport in transports:
        transport.close()


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for n in range(5):
        (folder / f"p{n}.png").write_bytes(png((n * 40, 10, 10)))
    (folder / "copy-of-p0.png").write_bytes(png((0, 10, 10)))  # same picture as p0
    (folder / "notes.txt").write_text("not an image")
    return folder


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def batch_run(photos: Path, out: Path, *extra: str) -> Any:
    return run("batch", "run", str(photos), "-p", "on white", "--out", str(out),
               "--poll", "0.05", "-q", *extra)  # fmt: skip


def items_submitted(server: App) -> int:
    store = server.services.store
    owner = store.get_batch(batches(server)[0]["id"]).owner
    return sum(store.get_batch(b["id"], owner).total for b in batches(server))


def batches(server: App) -> list[dict[str, Any]]:
    with Client(BASE, server.key, transport=SyncASGITransport(server.app)) as client:
        return [b.raw for b in client.batches.list(limit=100)]


def manifest(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_a_folder_runs_to_outputs_and_a_manifest_and_a_rerun_does_nothing(
    server: App, photos: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with Worker(server):
        result = batch_run(photos, out, "--param", "num_inference_steps=2", "--zip", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["items"] == 5 and summary["succeeded"] == 5 and summary["failed"] == 0
    [batch] = batches(server)
    assert batch["counts"]["total"] == 5  # p0 and its copy: one item
    lines = manifest(out)
    assert [line["source"] for line in lines] == [
        "copy-of-p0.png", "p0.png", "p1.png", "p2.png", "p3.png", "p4.png"]  # fmt: skip
    assert {line["status"] for line in lines} == {"succeeded"}
    for line in lines:
        assert (out / line["output"]).read_bytes() == OUTPUT
    assert lines[0]["output"] == "copy-of-p0.png" and lines[0]["generation_id"]
    assert lines[0]["generation_id"] == lines[1]["generation_id"]
    assert (out / f"{batch['id']}.zip").is_file() and (out / STATE_FILE).is_file()
    gen = server.services.store.get_generation(lines[2]["generation_id"])
    assert gen.params["num_inference_steps"] == 2 and gen.priority == -10

    again = batch_run(photos, out, "--param", "num_inference_steps=2")  # all done: no batch
    assert again.exit_code == 0, again.output
    assert len(batches(server)) == 1
    changed = batch_run(photos, out, "--no-wait")  # other parameters: new items
    assert changed.exit_code == 0 and len(batches(server)) == 2


def test_interrupted_uploads_resume_where_they_stopped(
    server: App, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    original = Uploads.create
    calls: list[Any] = []
    stopped: list[bool] = []

    def interrupted(self: Uploads, file: Any, **kwargs: Any) -> Any:
        calls.append(file)
        if len(calls) == 3 and not stopped:
            stopped.append(True)
            raise KeyboardInterrupt
        return original(self, file, **kwargs)

    monkeypatch.setattr(Uploads, "create", interrupted)
    first = batch_run(photos, out)
    assert first.exit_code == 130 and "run the same command again" in first.output
    assert batches(server) == []
    calls.clear()
    with Worker(server):
        second = batch_run(photos, out)
    assert second.exit_code == 0, second.output
    assert len(calls) == 3  # 5 distinct pictures, 2 uploaded before the interruption
    assert items_submitted(server) == 5


def test_a_submission_whose_answer_was_lost_is_found_again(
    server: App, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    original = Batches.create

    def lost(self: Batches, *args: Any, **kwargs: Any) -> Any:
        original(self, *args, **kwargs)
        raise KeyboardInterrupt  # the server made the batch; the answer never arrived

    monkeypatch.setattr(Batches, "create", lost)
    assert batch_run(photos, out).exit_code == 130
    assert len(batches(server)) == 1
    monkeypatch.setattr(Batches, "create", original)
    with Worker(server):
        second = batch_run(photos, out)
    assert second.exit_code == 0, second.output
    assert len(batches(server)) == 1 and items_submitted(server) == 5  # replayed, not resent
    assert all((out / line["output"]).is_file() for line in manifest(out))


def test_no_wait_then_a_rerun_follows_the_same_batch(
    server: App, photos: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = batch_run(photos, out, "--no-wait")
    assert first.exit_code == 0, first.output
    assert {line["status"] for line in manifest(out)} == {"queued"}
    status = run("batch", "status", str(out))
    assert status.exit_code == 0 and "5 items, 0 with outputs" in status.stdout
    assert "running" in status.stdout
    with Worker(server):
        second = batch_run(photos, out)
    assert second.exit_code == 0, second.output
    assert len(batches(server)) == 1 and items_submitted(server) == 5
    assert {line["status"] for line in manifest(out)} == {"succeeded"}


def test_failed_items_exit_4_and_a_rerun_submits_only_them(server: App, tmp_path: Path) -> None:
    lines = [{"custom_id": "ok", "input_image": "a.png"},
             {"custom_id": "bad", "input_image": ["a.png"], "prompt": "please fail"},
             {"input_image": "https://example.com/x.png", "prompt": "fail too"}]  # fmt: skip
    (tmp_path / "a.png").write_bytes(png())
    source = tmp_path / "requests.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in lines[:2]) + "\n")
    out = tmp_path / "out"
    with Worker(server):
        result = run("batch", "run", str(source), "-p", "fine", "--out", str(out), "-q",
                     "--poll", "0.05")  # fmt: skip
    assert result.exit_code == 4, result.output
    assert "submit the failed items again" in result.output
    ok, bad = manifest(out)
    assert (ok["source"], ok["status"], ok["output"]) == ("ok", "succeeded", "ok.png")
    assert (bad["source"], bad["status"], bad["output"]) == ("bad", "failed", None)
    assert bad["error"] == "the tiny model exploded"
    with Worker(server):
        assert run("batch", "run", str(source), "-p", "fine", "--out", str(out), "-q",
                   "--poll", "0.05").exit_code == 4  # fmt: skip
    assert [b["counts"]["total"] for b in batches(server)] == [1, 2]  # only "bad" again


def test_status_cancel_download_and_list(server: App, photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert batch_run(photos, out, "--no-wait", "--priority", "-50").exit_code == 0
    [batch] = batches(server)
    assert batch["priority"] == -50
    listed = run("batch", "list")
    assert listed.exit_code == 0 and batch["id"] in listed.stdout and "0/5" in listed.stdout
    server.run_one = server.worker.claim()  # one item starts; the rest are cancelled
    cancelled = run("batch", "cancel", batch["id"])
    assert cancelled.exit_code == 0 and "4 items cancelled, 1 still running" in cancelled.output
    server.worker.succeed(server.run_one, server.services.storage, OUTPUT)
    shown = run("batch", "status", batch["id"], "--json")
    assert json.loads(shown.stdout)["batches"][0]["status"] == "cancelled"
    files = tmp_path / "files"
    got = run("batch", "download", batch["id"], "--out", str(files))
    assert got.exit_code == 0, got.output
    assert sorted(p.name for p in files.iterdir()) == ["00000-copy-of-p0.png", "manifest.jsonl"]
    assert run("batch", "download", batch["id"], "--out", str(files), "--zip").exit_code == 0
    assert (files / f"{batch['id']}.zip").is_file()
    missing = run("batch", "status", "batch_nope")
    assert missing.exit_code == 3 and "not found" in missing.output.lower()
