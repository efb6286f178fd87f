"""The client-side CLI commands (edit, queue, models) against the in-process app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fixtures.inprocess_app import BASE, OUTPUT, App, SyncASGITransport, png

from editserve.client import Client, commands
from editserve.commands.main import main


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> App:
    app = App(tmp_path / "server")

    def factory(url: str | None, api_key: str | None, **kwargs: Any) -> Client:
        return Client(
            url or BASE, api_key or app.key, transport=SyncASGITransport(app.app), **kwargs
        )

    monkeypatch.setattr(commands, "client_factory", factory)
    return app


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "cat.png"
    path.write_bytes(png())
    return path


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_edit_saves_the_image_and_prints_progress(server: App, image: Path, tmp_path: Path) -> None:
    server.run_worker(steps=3)
    out = tmp_path / "out.png"
    result = run(
        "edit", str(image), "-p", "Add a hat", "--steps", "3", "--seed", "5", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == OUTPUT
    assert result.stdout.strip() == str(out)
    assert "denoising 1/3" in result.stderr and "decoding 3/3" in result.stderr
    assert "succeeded" in result.stderr and "seed 5" in result.stderr


def test_edit_json_and_default_output_name(
    server: App, image: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    server.run_worker(steps=1)
    result = run("edit", str(image), "-p", "hat", "--json", "-q")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["status"] == "succeeded" and body["prompt"] == "hat"
    assert Path(body["output_path"]) == tmp_path / "cat-edited.png"
    assert result.stderr == ""  # -q: no progress; --json: the result goes to stdout


def test_edit_failure_exits_4_with_the_error(server: App, image: Path) -> None:
    server.run_worker(steps=1, outcome="fail")
    result = run("edit", str(image), "-p", "hat", "--json", "-q")
    assert result.exit_code == 4
    body = json.loads(result.stdout)
    assert body["error"]["type"] == "generation_failed" and "exploded" in body["error"]["detail"]
    assert body["generation"]["status"] == "failed"
    assert "failed" in result.stderr


def test_edit_no_wait_prints_the_generation_id(server: App, image: Path) -> None:
    result = run("edit", str(image), "-p", "hat", "--no-wait")
    assert result.exit_code == 0
    generation_id = result.stdout.strip()
    shown = run("queue", "get", generation_id, "--json")
    assert json.loads(shown.stdout)["status"] == "queued"


@pytest.mark.parametrize(
    "args",
    [
        ["edit", "missing.png", "-p", "hat"],
        ["edit", "IMAGE", "-p", "hat", "--aspect-ratio", "5:1"],
        ["edit", "IMAGE", "-p", "hat", "--steps", "0"],
        ["edit", "IMAGE"],
        ["edit", "IMAGE", "IMAGE", "IMAGE", "IMAGE", "-p", "too many"],
    ],
)
def test_usage_errors_exit_2(server: App, image: Path, args: list[str]) -> None:
    result = run(*[str(image) if a == "IMAGE" else a for a in args])
    assert result.exit_code == 2, result.output


def test_api_errors_exit_3(server: App, image: Path) -> None:
    result = run("queue", "get", "nope")
    assert result.exit_code == 3
    assert "404 resource_not_found" in result.stderr
    result = run("edit", str(image), "-p", "hat", "--api-key", "es_wrong", "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout)["error"]["type"] == "unauthenticated"


def test_connection_errors_exit_5(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("editserve.client._client.backoff_delay", lambda attempt, **_: 0.0)
    result = run("models", "--url", "http://127.0.0.1:9", "--api-key", "x")
    assert result.exit_code == 5
    assert "cannot reach the server" in result.stderr


def test_queue_list_get_cancel(server: App, image: Path) -> None:
    ids = [run("edit", str(image), "-p", f"job {i}", "--no-wait").stdout.strip() for i in range(2)]
    listed = run("queue", "list")
    assert listed.exit_code == 0
    assert all(i in listed.stdout for i in ids) and "STATUS" in listed.stdout
    as_json = json.loads(run("queue", "list", "--json").stdout)
    assert as_json["count"] == 2
    shown = run("queue", "get", ids[0])
    assert f"generation_id   {ids[0]}" in shown.stdout and "status          queued" in shown.stdout
    cancelled = run("queue", "cancel", *ids)
    assert cancelled.exit_code == 0
    assert cancelled.stdout.split() == [ids[0], "cancelled", ids[1], "cancelled"]
    assert "No generations queued or running" in run("queue", "list").stderr
    done = json.loads(run("queue", "list", "--status", "cancelled", "--json").stdout)
    assert done["count"] == 2


def test_models_table_detail_and_json(server: App) -> None:
    listed = run("models")
    assert listed.exit_code == 0 and "qwen-image-edit-plus" in listed.stdout
    detail = run("models", "Qwen/Qwen-Image-Edit-2509")
    assert "num_inference_steps" in detail.stdout and "1..100" in detail.stdout
    assert json.loads(run("models", "qwen-image-edit-plus", "--json").stdout)["id"] == (
        "qwen-image-edit-plus"
    )
    assert run("models", "nope").exit_code == 3
