"""``--lora PATH[:SCALE]`` of ``editserve edit`` and the client's ``loras``: they reach the
server as the request's ``loras`` field; ``editserve models`` lists the server's LoRAs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from fixtures.inprocess_app import BASE, App, SyncASGITransport, png
from safetensors.numpy import save_file

from editserve.client import Client, commands
from editserve.client._base import lora_list, parse_lora
from editserve.commands.main import main

DIM = 32  # the tiny transformer's width (2 heads x 16)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> App:
    folder = tmp_path / "loras"
    folder.mkdir()
    layer = "transformer.transformer_blocks.0.attn.to_q"
    save_file(
        {
            f"{layer}.lora_A.weight": np.zeros((4, DIM), np.float32),
            f"{layer}.lora_B.weight": np.zeros((DIM, 4), np.float32),
        },
        str(folder / "style.safetensors"),
    )
    app = App(tmp_path / "server", lora_dir=folder, model_weights="tiny")

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


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("style", {"path": "style"}),
        ("style:0.5", {"path": "style", "scale": 0.5}),
        ("owner/repo@v1/f.safetensors:2", {"path": "owner/repo@v1/f.safetensors", "scale": 2}),
        ("https://x.test/a.safetensors", {"path": "https://x.test/a.safetensors"}),
        ("https://x.test:8443/a.safetensors:1.5", {"path": "https://x.test:8443/a.safetensors",
                                                   "scale": 1.5}),
    ],
)  # fmt: skip
def test_path_and_scale_are_parsed(text: str, parsed: dict[str, Any]) -> None:
    assert parse_lora(text) == parsed


def test_the_client_takes_strings_pairs_and_mappings() -> None:
    assert lora_list(["a:0.5", ("b", 2), {"path": "c"}]) == [
        {"path": "a", "scale": 0.5},
        {"path": "b", "scale": 2.0},
        {"path": "c"},
    ]
    assert lora_list(None) is None


def test_lora_flags_reach_the_request(server: App, image: Path) -> None:
    result = run(
        "edit", str(image), "-p", "hat", "--no-wait", "--lora", "style:0.5", "--lora", "style"
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(run("queue", "get", result.stdout.strip(), "--json").stdout)
    assert shown["loras"] == [{"path": "style", "scale": 0.5}, {"path": "style", "scale": 1.0}]


def test_too_many_or_unknown_loras_are_refused(server: App, image: Path) -> None:
    many = run("edit", str(image), "-p", "hat", *["--lora", "style"] * 4)
    assert many.exit_code == 2 and "at most 3 --lora" in many.output
    unknown = run("edit", str(image), "-p", "hat", "--lora", "nope", "--json")
    assert unknown.exit_code == 3
    assert (
        "loras[0].path: LoRA 'nope' cannot be used" in json.loads(unknown.stdout)["error"]["detail"]
    )


def test_the_client_sends_loras_and_models_lists_them(server: App, image: Path) -> None:
    with Client(BASE, server.key, transport=SyncASGITransport(server.app)) as client:
        [gen] = client.queue.submit(prompt="hat", input_image=str(image), loras=[("style", 2)])
        assert client.queue.get(gen.generation_id).params["loras"] == [
            {"path": "style", "scale": 2.0}
        ]
    detail = run("models", "qwen-image-edit-plus")
    assert "loras     style" in detail.stdout
