"""`editserve doctor`: one line per check with its fix, and exit 1 only when something blocks
serving — on this CPU-only machine as it is, and with GPUs and hubs stood in for."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fixtures.hub_server import FakeHub
from fixtures.support import free_port

import editserve.commands.doctor.host as doctor_host
import editserve.commands.doctor.run as doctor
from editserve.commands.doctor.checks import Findings, Gpu
from editserve.commands.doctor.host import check_versions
from editserve.commands.main import main
from editserve.core.settings import Settings
from editserve.hub.fetch import Fetcher, plan_all
from editserve.hub.sources import HubFiles

REPO = "test-org/tiny-qwen"
RTX_4090 = Gpu(0, "NVIDIA GeForce RTX 4090", 24_564 * 2**20, (8, 9))
H100 = Gpu(1, "NVIDIA H100 80GB HBM3", 81_559 * 2**20, (9, 0))


def by_name(found: Findings) -> dict[str, Any]:
    return {check.name: check for check in found.checks}


def with_gpus(monkeypatch: pytest.MonkeyPatch, *gpus: Gpu) -> None:
    def fake_cuda(found: Findings, *, wants_gpu: bool) -> None:
        found.gpus.extend(gpus)
        found.add("ok", "CUDA", f"{len(gpus)} GPU(s) visible")

    monkeypatch.setattr(doctor, "check_cuda", fake_cuda)


@pytest.fixture
def hub(tiny_weights_dir: Path) -> Any:
    with FakeHub() as server:
        server.commit = server.add_repo(REPO, tiny_weights_dir)
        yield server


def test_on_this_cpu_machine_it_says_what_serving_would_need(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    found = doctor.run_checks(settings, cache_dir=tmp_path / "hf")
    checks = by_name(found)
    assert not found.blocking
    assert checks["CUDA"].status == "warn" and "no CUDA GPU visible" in checks["CUDA"].finding
    assert checks["weights (qwen-image-edit-plus)"].status == "info"
    memory = checks["memory (qwen-image-edit-plus)"]
    assert "these settings need ≥ 63.2 GB GPU memory" in memory.finding
    assert (
        checks["database"].status == "ok"
        and "created at the first start" in checks["database"].finding
    )
    assert {"Python", "torch", "diffusers", "transformers", "host RAM", "storage"} <= set(checks)
    text = doctor.report(found, settings)
    assert re.search(r"memory_mode=group_offload, quantization=none +23\.7 GB +65\.7 GB", text)
    assert text.endswith("Nothing blocks serving (development weights only)")
    assert all(" → " in check.line() for check in found.checks if check.status == "fail")


def test_a_card_too_small_for_the_settings_blocks_with_the_fix(
    hub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_gpus(monkeypatch, RTX_4090, H100)
    settings = Settings(data_dir=tmp_path, model_weights=REPO)
    found = doctor.run_checks(settings, cache_dir=tmp_path / "hf", endpoint=hub.url)
    checks = by_name(found)
    small = checks["memory (qwen-image-edit-plus), GPU 0"]
    assert small.status == "fail" and "needs ≥ 63.2 GB GPU memory" in small.finding
    wanted = "set EDITSERVE_MEMORY_MODE=group_offload EDITSERVE_QUANTIZATION=none (and "
    assert small.fix.startswith(wanted) and "EDITSERVE_LIGHTNING=8" in small.fix
    assert checks["memory (qwen-image-edit-plus), GPU 1"].status == "ok"
    assert found.blocking
    assert found.tables["qwen-image-edit-plus"][1]["fits"] == {"GPU 0": False, "GPU 1": True}

    settings = Settings(data_dir=tmp_path, model_weights=REPO, memory_mode="group_offload")
    found = doctor.run_checks(settings, cache_dir=tmp_path / "hf", endpoint=hub.url)
    assert by_name(found)["memory (qwen-image-edit-plus), GPU 0"].status == "ok"


def test_the_hub_and_the_cache(hub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with_gpus(monkeypatch, H100)
    cache = tmp_path / "hf"
    settings = Settings(data_dir=tmp_path, model_weights=REPO)
    weights = by_name(doctor.run_checks(settings, cache_dir=cache, endpoint=hub.url))[
        "weights (qwen-image-edit-plus)"
    ]
    assert weights.status == "warn" and "3.3 MB not in the cache yet" in weights.finding
    assert (
        weights.fix.startswith("editserve pull")
        and f"EDITSERVE_MODEL_REVISION={hub.commit}" in weights.fix
    )

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    found = doctor.run_checks(settings, cache_dir=cache, endpoint=hub.url)
    assert by_name(found)["weights (qwen-image-edit-plus)"].status == "fail" and found.blocking

    Fetcher(plan_all([HubFiles(REPO)], cache_dir=cache, endpoint=hub.url), endpoint=hub.url).run()
    found = doctor.run_checks(settings, cache_dir=cache, endpoint=hub.url)
    offline = by_name(found)["weights (qwen-image-edit-plus)"]
    assert offline.status == "ok" and "complete in the cache" in offline.finding

    monkeypatch.delenv("HF_HUB_OFFLINE")
    unreachable = f"http://127.0.0.1:{free_port()}"
    found = doctor.run_checks(settings, cache_dir=cache, endpoint=unreachable)
    check = by_name(found)["weights (qwen-image-edit-plus)"]
    assert check.status == "warn" and check.fix == "export HF_HUB_OFFLINE=1"


def test_options_database_and_versions_that_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql://editserve:s3cret@127.0.0.1:{free_port()}/editserve"
    settings = Settings(data_dir=tmp_path, quantization="fp8_dynamic", database_url=url)
    found = doctor.run_checks(settings, cache_dir=tmp_path / "hf")
    checks = by_name(found)
    assert checks["options (qwen-image-edit-plus)"].status == "fail"
    assert "needs a CUDA GPU" in checks["options (qwen-image-edit-plus)"].finding
    assert checks["database"].status == "fail" and "s3cret" not in checks["database"].finding
    assert "editserve:***@127.0.0.1" in checks["database"].finding

    real = doctor_host.importlib.metadata.version  # type: ignore[attr-defined]
    monkeypatch.setattr(
        "editserve.commands.doctor.host.importlib.metadata.version",
        lambda name: "0.30.0" if name == "diffusers" else real(name),
    )
    versions = Findings()
    check_versions(versions)
    diffusers = by_name(versions)["diffusers"]
    assert diffusers.status == "fail" and diffusers.fix == "pip install 'diffusers==0.42.1'"


def test_the_command_exits_1_only_when_blocked(tmp_path: Path) -> None:
    ok = CliRunner().invoke(main, ["doctor", "--json", "--data-dir", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    body = json.loads(ok.output)
    assert body["status"] == "ok" and body["gpus"] == []
    assert body["memory"]["qwen-image-edit-plus"][1]["selected"] is True
    blocked = CliRunner().invoke(
        main,
        ["doctor", "--data-dir", str(tmp_path)],
        env={"EDITSERVE_MEMORY_MODE": "group_offload"},
    )
    assert blocked.exit_code == 1
    assert "✘ options (qwen-image-edit-plus): EDITSERVE_MEMORY_MODE=group_offload" in blocked.output
