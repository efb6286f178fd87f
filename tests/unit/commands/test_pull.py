"""`editserve pull` in-process against a hub on loopback: the plan, the pin hint, JSON for
scripts, the Lightning LoRA a preset needs, and the refusals (disk, unknown model, no hub)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fixtures.hub_server import FakeHub
from fixtures.support import free_port

from editserve.commands.main import main
from editserve.commands.pull.run import EXIT_FAILED, EXIT_OK, PullOptions, parse_size, run_pull
from editserve.core.settings import Settings

REPO = "test-org/tiny-qwen"
LORA_FILE = "Qwen-Image-Edit-2509/Qwen-Image-Edit-2509-Lightning-8steps-V1.0-bf16.safetensors"


@pytest.fixture
def hub(tiny_weights_dir: Path) -> Any:
    with FakeHub() as server:
        server.commit = server.add_repo(REPO, tiny_weights_dir)
        server.add_files("test-org/lightning", {LORA_FILE: b"\x00" * 4096, "README.md": b"x"})
        yield server


def pull(hub: FakeHub, tmp_path: Path, *names: str, as_json: bool = False, **settings: Any) -> int:
    options = PullOptions(list(names), as_json, 0, 2, cache_dir=tmp_path / "hf", endpoint=hub.url)
    return run_pull(Settings(data_dir=tmp_path, **settings), options)


def test_pull_shows_the_plan_and_how_to_pin_it(hub: Any, tmp_path: Path, capsys: Any) -> None:
    assert pull(hub, tmp_path, model_weights=REPO) == EXIT_OK
    err = capsys.readouterr().err
    assert f"weights: {REPO}@main = {hub.commit[:12]} — 15 files, 3.3 MB, 3.3 MB to download" in err
    assert "Downloaded 3.3 MB; every file checked against the hub" in err
    assert f"export EDITSERVE_MODEL_REVISION={hub.commit}" in err
    assert "export HF_HUB_OFFLINE=1" in err
    snapshot = tmp_path / "hf" / "models--test-org--tiny-qwen" / "snapshots" / hub.commit
    assert (snapshot / "model_index.json").is_file()

    assert pull(hub, tmp_path, model_weights=REPO, model_revision=hub.commit) == EXIT_OK
    err = capsys.readouterr().err
    assert "in the cache" in err and "Downloaded 0 B" in err
    assert "EDITSERVE_MODEL_REVISION=" not in err  # already pinned


def test_json_for_scripts(hub: Any, tmp_path: Path, capsys: Any) -> None:
    assert pull(hub, tmp_path, "qwen-image-edit-plus", as_json=True, model_weights=REPO) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert err == ""  # no bar, no chatter
    assert result["status"] == "ok" and result["downloaded_bytes"] > 3_000_000
    [model] = result["models"]
    [source] = model["sources"]
    assert model["model"] == "qwen-image-edit-plus"
    assert (source["repo"], source["commit"], source["files"]) == (REPO, hub.commit, 15)
    assert source["verified"] is True and source["missing_bytes"] == 0
    assert Path(source["path"]).is_dir()


def test_a_lightning_preset_also_pulls_its_lora(hub: Any, tmp_path: Path, capsys: Any) -> None:
    code = pull(
        hub,
        tmp_path,
        as_json=True,
        model_weights=REPO,
        lightning="8",
        lightning_lora="test-org/lightning",
    )
    assert code == EXIT_OK
    sources = json.loads(capsys.readouterr().out)["models"][0]["sources"]
    assert [(s["repo"], s["files"]) for s in sources] == [(REPO, 15), ("test-org/lightning", 1)]
    lora = Path(sources[1]["path"]) / LORA_FILE
    assert lora.read_bytes() == b"\x00" * 4096
    assert not (Path(sources[1]["path"]) / "README.md").exists()  # only the file it needs


def test_nothing_to_pull_for_development_weights(hub: Any, tmp_path: Path, capsys: Any) -> None:
    assert pull(hub, tmp_path, as_json=True, model_weights="tiny") == EXIT_OK
    assert json.loads(capsys.readouterr().out)["models"] == []
    assert hub.requests == []


def test_refusals_are_worded(hub: Any, tmp_path: Path, capsys: Any) -> None:
    options = PullOptions([], True, 10**18, 2, cache_dir=tmp_path / "hf", endpoint=hub.url)
    assert run_pull(Settings(data_dir=tmp_path, model_weights=REPO), options) == EXIT_FAILED
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "error" and "not enough disk space" in result["error"]
    assert hub.body_gets() == []

    assert pull(hub, tmp_path, "no-such-model", model_weights=REPO) == EXIT_FAILED
    assert "Model not found: no-such-model" in capsys.readouterr().err

    options = PullOptions([], False, 0, 2, tmp_path / "hf", f"http://127.0.0.1:{free_port()}")
    assert run_pull(Settings(data_dir=tmp_path, model_weights=REPO), options) == EXIT_FAILED
    assert "cannot reach http://127.0.0.1" in capsys.readouterr().err


def test_sizes_and_the_command_line() -> None:
    assert parse_size("10GB") == 10**10 and parse_size("1.5G") == 1_500_000_000
    assert parse_size("512MiB") == 512 * 2**20 and parse_size("0") == 0
    result = CliRunner().invoke(main, ["pull", "--keep-free", "lots"])
    assert result.exit_code == 2 and "'lots' is not a size" in result.output
    assert (
        "Ctrl-C and run it again to resume" in CliRunner().invoke(main, ["pull", "--help"]).output
    )
