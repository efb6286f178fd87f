"""--model, --width/--height and --quality of ``editserve edit``, and the client's width,
height and output_quality: they reach the server as the request's fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fixtures.inprocess_app import BASE, App, SyncASGITransport, png

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


def test_size_quality_and_model_reach_the_request(server: App, image: Path) -> None:
    result = run(
        "edit", str(image), "-p", "hat", "--no-wait", "--format", "webp",
        "--width", "512", "--height", "256", "--quality", "70",
        "--model", "qwen-image-edit-2509",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(run("queue", "get", result.stdout.strip(), "--json").stdout)
    assert shown["model_name"] == "qwen-image-edit-plus"  # the alias of 2509
    assert (shown["width"], shown["height"]) == (512, 256)  # exact, not ~1 MP
    assert shown["output_quality"] == 70


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--width", "512"], "give --width and --height together"),
        (["--height", "512"], "give --width and --height together"),
        (["--quality", "0"], "--quality"),
        (["--quality", "101"], "--quality"),
    ],
)
def test_cli_refuses_half_sizes_and_bad_quality(
    server: App, image: Path, args: list[str], message: str
) -> None:
    result = run("edit", str(image), "-p", "hat", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_the_server_names_a_wrong_size(server: App, image: Path) -> None:
    result = run("edit", str(image), "-p", "hat", "--width", "500", "--height", "512", "--json")
    assert result.exit_code == 3
    detail = json.loads(result.stdout)["error"]["detail"]
    assert "width: must be a positive multiple of 16 (got 500)" in detail


def test_the_client_sends_width_height_and_quality(server: App, image: Path) -> None:
    with Client(BASE, server.key, transport=SyncASGITransport(server.app)) as client:
        [gen] = client.queue.submit(
            prompt="hat", input_image=str(image), width=256, height=768, output_quality=40
        )
        got = client.queue.get(gen.generation_id)
    assert (got.width, got.height) == (256, 768)
    assert got.params["output_quality"] == 40
