"""`editserve pull --annotators` fetches the depth and pose weights through the hub machinery
(plan, checksums, refs), and `doctor` says whether each annotator is there: against a hub
on loopback that serves the tiny twins under the real repo ids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fixtures.hub_server import FakeHub

from editserve.commands.doctor.annotators import check_annotators
from editserve.commands.doctor.checks import Findings
from editserve.commands.main import main
from editserve.commands.pull.run import EXIT_OK, PullOptions, run_pull
from editserve.core.settings import Settings
from editserve.models.annotators.registry import weights_sources


@pytest.fixture
def hub(tiny_annotators: Path) -> Iterator[FakeHub]:
    with FakeHub() as server:
        for source in weights_sources():
            server.add_repo(source.repo, tiny_annotators.joinpath(*source.repo.split("/")))
        yield server


def doctor_lines(tmp_path: Path, **settings: Any) -> dict[str, Any]:
    found = Findings()
    check_annotators(found, Settings(data_dir=tmp_path, **settings), tmp_path / "hf")
    return {check.name: check for check in found.checks}


def test_pull_fetches_the_annotators_and_doctor_sees_them(
    hub: FakeHub, tmp_path: Path, capsys: Any
) -> None:
    real = {"model_weights": "test-org/real-weights"}  # not development weights
    before = doctor_lines(tmp_path, **real)
    assert before["annotator (depth)"].status == "info"
    assert "not in the Hugging Face cache" in before["annotator (depth)"].finding
    assert before["annotator (pose)"].fix.startswith("editserve pull --annotators")
    assert before["annotators (canny, lineart, scribble, gray)"].status == "ok"

    options = PullOptions([], True, 0, 2, cache_dir=tmp_path / "hf", endpoint=hub.url)
    options.annotators = True
    assert run_pull(Settings(data_dir=tmp_path, model_weights="tiny"), options) == EXIT_OK
    body = json.loads(capsys.readouterr().out)
    assert all(model["sources"] == [] for model in body["models"])  # tiny: nothing
    assert sorted(a["repo"] for a in body["annotators"]) == sorted(
        s.repo for s in weights_sources()
    )
    assert all(a["verified"] and a["files"] == 3 for a in body["annotators"])

    after = doctor_lines(tmp_path, **real)
    assert after["annotator (depth)"].status == "ok"
    assert after["annotator (pose)"].status == "ok"
    assert "Apache-2.0" in after["annotator (pose)"].finding


def test_without_the_flag_nothing_of_the_annotators_is_fetched(
    hub: FakeHub, tmp_path: Path, capsys: Any
) -> None:
    options = PullOptions([], True, 0, 2, cache_dir=tmp_path / "hf", endpoint=hub.url)
    assert run_pull(Settings(data_dir=tmp_path, model_weights="tiny"), options) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["annotators"] == []
    assert hub.requests == []


def test_doctor_on_development_weights_names_the_twins(tmp_path: Path) -> None:
    lines = doctor_lines(tmp_path, model_weights="tiny")
    assert lines["annotators (depth, pose)"].status == "info"
    assert "tiny random twins" in lines["annotators (depth, pose)"].finding


def test_the_command_line_has_the_flag() -> None:
    result = CliRunner().invoke(main, ["pull", "--help"])
    assert result.exit_code == 0 and "--annotators" in result.output
