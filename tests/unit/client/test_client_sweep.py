"""Sweeps from the client: ``client.queue.submit(sweep=...)`` and ``editserve edit --sweep``
(against the in-process app)."""

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


def test_submit_sends_the_sweep_and_gets_one_generation_per_cell(server: App, image: Path) -> None:
    with Client(BASE, server.key, transport=SyncASGITransport(server.app)) as client:
        gens = client.queue.submit(
            prompt="hat", input_image=str(image), sweep={"seed": (1, 2), "true_cfg_scale": [3]}
        )
        assert len(gens) == 2
        shown = [client.queue.get(gen.generation_id) for gen in gens]
    assert [gen.seed for gen in shown] == [1, 2]
    assert shown[1].raw["sweep"]["cell"] == [2, 3.0]


def test_edit_sweep_no_wait_prints_every_cells_id(server: App, image: Path) -> None:
    result = run(
        "edit", str(image), "-p", "hat", "--sweep", "seed=1,2,3", "--sweep", "cfg=2.5,4",
        "--no-wait", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ids = json.loads(result.stdout)
    assert len(ids) == 6
    first = json.loads(run("queue", "get", ids[0], "--json").stdout)
    last = json.loads(run("queue", "get", ids[5], "--json").stdout)
    assert first["sweep"]["axes"] == [
        {"axis": "seed", "values": [1, 2, 3]},
        {"axis": "true_cfg_scale", "values": [2.5, 4.0]},
    ]
    assert (last["seed"], last["true_cfg_scale"]) == (3, 4.0)


@pytest.mark.parametrize(
    ("value", "message"),
    [("seed", "give AXIS=V1,V2"), ("color=1,2", "not an axis"), ("seed=a,b", "must be numbers")],
)
def test_a_bad_sweep_option_is_a_usage_error(image: Path, value: str, message: str) -> None:
    result = run("edit", str(image), "-p", "hat", "--sweep", value)
    assert result.exit_code == 2
    assert message in result.output
