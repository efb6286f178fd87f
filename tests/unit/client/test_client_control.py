"""Control maps from the Python client and the CLI: ``images.edit(control=...)`` and
``queue.submit(control=...)`` upload a local control picture like the pictures;
``images.control_map(type, image, **options)`` answers a stored map; ``editserve edit
--control TYPE:IMAGE --control-option K=V [--control-ready]`` and ``editserve control-map
TYPE IMAGE -o FILE``; usage errors exit 2."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fixtures.inprocess_app import BASE, App, SyncASGITransport
from PIL import Image

from editserve.client import Client, InvalidRequestError, commands
from editserve.commands.main import main
from editserve.models.annotators.cache_key import map_key

SIZE = (40, 30)


def encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


SOURCE = encode(Image.new("RGB", (24, 36), (10, 200, 10)))


@pytest.fixture
def server(tmp_path: Path) -> App:
    return App(tmp_path / "server")


@pytest.fixture
def client(server: App) -> Client:
    return Client(BASE, server.key, transport=SyncASGITransport(server.app))


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    picture, source = tmp_path / "photo.png", tmp_path / "pose.png"
    picture.write_bytes(encode(Image.new("RGB", SIZE, (200, 40, 40))))
    source.write_bytes(SOURCE)
    return picture, source


def stored(server: App) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    owner = server.services.store.list_keys()[0].id
    [gen], _total = server.services.store.list_generations(owner)
    return gen.params, gen.inputs


def test_queue_submit_uploads_a_local_control_picture(
    server: App, client: Client, files: tuple[Path, Path]
) -> None:
    picture, source = files
    control = {"type": "pose", "image": source, "max_people": 2}
    [gen] = client.queue.submit(prompt="Picture 2's pose", input_image=picture, control=control)
    assert gen.status == "queued"
    params, inputs = stored(server)
    assert params["control"]["image"].startswith("http")  # uploaded
    assert params["control"]["max_people"] == 2
    assert (inputs[1]["width"], inputs[1]["height"]) == (24, 36)


def test_images_edit_with_control_and_bad_controls(
    server: App, client: Client, files: tuple[Path, Path]
) -> None:
    server.run_worker(steps=1)
    picture, source = files
    result = client.images.edit(
        prompt="p", input_image=picture, control={"type": "canny", "image": SOURCE}
    )
    assert result.images
    with pytest.raises(InvalidRequestError) as info:
        client.images.edit(
            prompt="p",
            input_image=[picture, picture, picture],
            control={"type": "canny", "image": source},
        )
    assert "control: the map would be Picture 4" in str(info.value)


def test_images_control_map_answers_a_stored_map(server: App, client: Client) -> None:
    key = map_key(hashlib.sha256(SOURCE).hexdigest(), "gray", {})
    server.services.storage.put(key, encode(Image.new("RGB", (24, 36), (5, 5, 5))), "image/png")
    image = client.images.control_map("gray", SOURCE)
    assert image.url is not None and f"/files/{key}" in image.url
    assert image.read_bytes() == server.services.storage.get(key)
    with pytest.raises(InvalidRequestError) as info:
        client.images.control_map("canny", SOURCE, low_threshold=999)
    assert "low_threshold: " in str(info.value)


@pytest.fixture
def cli(server: App, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    def factory(url: str | None, api_key: str | None, **kwargs: Any) -> Client:
        transport = SyncASGITransport(server.app)
        return Client(url or BASE, api_key or server.key, transport=transport, **kwargs)

    monkeypatch.setattr(commands, "client_factory", factory)
    return CliRunner()


def test_cli_edit_with_control(
    server: App, cli: CliRunner, files: tuple[Path, Path], tmp_path: Path
) -> None:
    picture, source = files
    args = ["edit", str(picture), "-p", "p", "--control", f"canny:{source}"]
    args += ["--control-option", "low_threshold=50", "--no-wait", "--json"]
    result = cli.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    params, _inputs = stored(server)
    assert params["control"]["type"] == "canny" and params["control"]["low_threshold"] == 50
    assert params["control"]["preprocess"] is True


def test_cli_edit_with_a_ready_map(server: App, cli: CliRunner, files: tuple[Path, Path]) -> None:
    picture, source = files
    args = ["edit", str(picture), "-p", "p", "--control", f"depth:{source}", "--control-ready"]
    result = cli.invoke(main, [*args, "--no-wait"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    params, _inputs = stored(server)
    assert params["control"]["preprocess"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--control", "sobel:x.png"], "TYPE one of canny"),
        (["--control", "canny"], "give TYPE:IMAGE"),
        (["--control-option", "low_threshold=5"], "need --control"),
        (["--control", "canny:x.png", "--control-option", "oops"], "give NAME=VALUE"),
    ],
)
def test_cli_control_usage_errors(
    cli: CliRunner, files: tuple[Path, Path], args: list[str], message: str
) -> None:
    picture, _source = files
    result = cli.invoke(main, ["edit", str(picture), "-p", "p", *args])
    assert result.exit_code == 2 and message in result.output


def test_cli_control_map_saves_a_stored_map(
    server: App, cli: CliRunner, files: tuple[Path, Path], tmp_path: Path
) -> None:
    _picture, source = files
    key = map_key(hashlib.sha256(SOURCE).hexdigest(), "canny", {"low_threshold": 40})
    server.services.storage.put(key, encode(Image.new("RGB", (24, 36))), "image/png")
    out = tmp_path / "map.png"
    args = ["control-map", "canny", str(source), "-O", "low_threshold=40", "-o", str(out)]
    result = cli.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == server.services.storage.get(key)
    bad = cli.invoke(main, ["control-map", "canny", str(source), "-O", "low_threshold=900"])
    assert bad.exit_code == 3 and "low_threshold" in bad.output
