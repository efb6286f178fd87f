"""Masked edits from the Python client and the CLI: ``images.edit(mask=...)``,
``queue.submit(mask=...)`` and ``editserve edit --mask FILE --mask-feather N`` (a local mask
is uploaded like the pictures); ``editserve generate`` has no --mask."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fixtures.inprocess_app import BASE, App, SyncASGITransport
from PIL import Image

from editserve.client import Client, InvalidRequestError, commands
from editserve.commands.main import main

SIZE = (40, 30)


def encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def white_box(size: tuple[int, int] = SIZE) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, (10, 5, 30, 20))
    return mask


@pytest.fixture
def server(tmp_path: Path) -> App:
    return App(tmp_path / "server")


@pytest.fixture
def client(server: App) -> Client:
    return Client(BASE, server.key, transport=SyncASGITransport(server.app))


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    picture, mask = tmp_path / "photo.png", tmp_path / "mask.png"
    picture.write_bytes(encode(Image.new("RGB", SIZE, (200, 40, 40))))
    mask.write_bytes(encode(white_box()))
    return picture, mask


def stored_mask(server: App) -> tuple[dict[str, Any], Image.Image]:
    owner = server.services.store.list_keys()[0].id
    [gen], _total = server.services.store.list_generations(owner)
    data = server.services.storage.get(gen.inputs[-1]["key"])
    return gen.params, Image.open(io.BytesIO(data))


def test_images_edit_takes_a_local_mask_and_a_feather(
    server: App, client: Client, files: tuple[Path, Path]
) -> None:
    server.run_worker(steps=1)
    picture, mask = files
    result = client.images.edit(
        prompt="a hat", input_image=picture, mask=white_box(), mask_feather=5
    )
    assert result.images
    params, stored = stored_mask(server)
    assert params["mask_feather"] == 5 and params["mask"].startswith("http")  # uploaded
    assert stored.getbbox() == (10, 5, 30, 20)


def test_queue_submit_takes_a_mask_path_and_bad_masks_are_invalid_requests(
    server: App, client: Client, files: tuple[Path, Path]
) -> None:
    picture, mask = files
    [gen] = client.queue.submit(prompt="a hat", input_image=picture, mask=mask)
    assert gen.status == "queued"
    with pytest.raises(InvalidRequestError) as info:
        client.queue.submit(prompt="a hat", input_image=picture, mask=white_box((30, 40)))
    assert "mask: must have the size of Picture 1" in str(info.value)


@pytest.fixture
def cli(server: App, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    def factory(url: str | None, api_key: str | None, **kwargs: Any) -> Client:
        transport = SyncASGITransport(server.app)
        return Client(url or BASE, api_key or server.key, transport=transport, **kwargs)

    monkeypatch.setattr(commands, "client_factory", factory)
    return CliRunner()


def test_cli_edit_with_mask_and_feather(
    server: App, cli: CliRunner, files: tuple[Path, Path], tmp_path: Path
) -> None:
    server.run_worker(steps=1)
    picture, mask = files
    out = tmp_path / "out.png"
    args = ["edit", str(picture), "-p", "a hat", "--mask", str(mask), "--mask-feather", "6"]
    result = cli.invoke(main, [*args, "-o", str(out), "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    params, stored = stored_mask(server)
    assert params["mask_feather"] == 6 and stored.getbbox() == (10, 5, 30, 20)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mask", "missing.png"], "--mask"),
        (["--mask-feather", "4"], "--mask-feather needs --mask"),
        (["--mask-feather", "300", "--mask", "x.png"], "--mask-feather"),
    ],
)
def test_cli_mask_usage_errors(
    cli: CliRunner, files: tuple[Path, Path], args: list[str], message: str
) -> None:
    picture, _mask = files
    result = cli.invoke(main, ["edit", str(picture), "-p", "hat", *args])
    assert result.exit_code == 2 and message in result.output


def test_cli_generate_has_no_mask(cli: CliRunner, files: tuple[Path, Path]) -> None:
    _picture, mask = files
    result = cli.invoke(main, ["generate", "-p", "a cat", "--mask", str(mask)])
    assert result.exit_code == 2 and "No such option '--mask'" in result.output
