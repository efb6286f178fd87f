"""qwen-image-edit-plus's start-up you can follow: what it needs from the hub, the download
reported with its bytes before anything loads, then component k of n, the options, the
warm-up — against a hub on loopback serving the tiny model (no network)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import huggingface_hub.constants
import pytest
from fixtures.hub_server import FakeHub
from fixtures.support import free_port

from editserve.core.settings import Settings
from editserve.hub.sources import HubFiles
from editserve.models.base import ModelLoadError
from editserve.models.qwen_image_edit.members import EDIT_2509
from editserve.models.qwen_image_edit.request.options import model_options
from editserve.models.qwen_image_edit.request.sources import weights_source
from editserve.models.qwen_image_edit.request.weights_choice import WeightsChoice
from editserve.models.qwen_image_edit.runtime.adapter import QwenImageEditPlusAdapter
from editserve.models.qwen_image_edit.runtime.startup import fetch_for_load
from editserve.models.qwen_image_edit.variant import COMPONENTS

HUB_ID = EDIT_2509.hub_id

REPO = "test-org/tiny-qwen"


@pytest.fixture
def hub(tiny_weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The tiny model on a loopback hub; this process's Hugging Face cache in tmp_path."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with FakeHub() as server:
        server.commit = server.add_repo(REPO, tiny_weights_dir)
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", server.url)
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
        yield server


def load(
    tmp_path: Path, **settings: Any
) -> tuple[QwenImageEditPlusAdapter, list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    adapter = QwenImageEditPlusAdapter(
        Settings(data_dir=tmp_path, output_area=64 * 64, torch_threads=1, **settings),
        device="cpu",
        on_stage=lambda stage, detail: seen.append((str(stage), dict(detail))),
    )
    adapter.load()
    return adapter, seen


def stages(seen: list[tuple[str, dict[str, Any]]]) -> list[str]:
    names: list[str] = []
    for stage, _ in seen:
        if not names or names[-1] != stage:
            names.append(stage)
    return names


def test_a_first_start_downloads_with_figures_then_loads_from_the_cache(
    hub: Any, tmp_path: Path
) -> None:
    adapter, seen = load(tmp_path, model_weights=REPO)
    assert stages(seen) == ["downloading", "loading", "applying_options", "warming_up"]
    downloads = [detail for stage, detail in seen if stage == "downloading"]
    total = sum(p.stat().st_size for p in (tmp_path / "hf").rglob("blobs/*"))
    assert downloads[-1]["bytes_done"] == downloads[-1]["bytes_total"] >= total > 0
    assert downloads[-1]["files_done"] == downloads[-1]["files_total"]
    components = [d for s, d in seen if s == "loading" and "component" in d]
    assert sorted(d["component"] for d in components) == sorted(COMPONENTS)
    assert [(d["index"], d["count"]) for d in components] == [(k, 6) for k in range(1, 7)]
    assert [d["step"] for s, d in seen if s == "applying_options"][-1] == "attention backend native"
    assert seen[-1] == (
        "warming_up",
        {"run": 1, "runs": 1, "width": 64, "height": 64, "compiles": False},
    )
    assert adapter.loaded is not None and adapter.loaded.revision == hub.commit

    # A second start finds everything in the cache: no download, no body fetched again
    gets = len(hub.body_gets())
    _, seen = load(tmp_path, model_weights=REPO)
    assert "downloading" not in stages(seen)
    assert len(hub.body_gets()) == gets


def test_offline_or_unreachable_hubs_leave_it_to_the_cache(
    hub: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    choice = WeightsChoice("hub", REPO)
    options = model_options(Settings(), variant=EDIT_2509)
    seen: list[str] = []
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert fetch_for_load(choice, options, lambda s, d: seen.append(s)) is False
    assert hub.requests == [] and seen == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{free_port()}")
    with caplog.at_level(logging.WARNING, logger="editserve.model"):
        assert fetch_for_load(choice, options, lambda s, d: seen.append(s)) is False
    assert "cannot reach" in caplog.text and "local Hugging Face cache" in caplog.text


def test_a_disk_too_small_fails_the_start_up_before_downloading(
    hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("editserve.hub.fetch.free_bytes", lambda _path: 1000)
    with pytest.raises(ModelLoadError, match="not enough disk space: the download needs 3.3 MB"):
        fetch_for_load(
            WeightsChoice("hub", REPO),
            model_options(Settings(), variant=EDIT_2509),
            lambda s, d: None,
        )
    assert hub.body_gets() == []


def test_what_pull_fetches_follows_the_settings(tiny_weights_dir: Path) -> None:
    pinned = "d3968ef930e841f4c73640fb8afa3b306a78167e"
    assert weights_source(Settings(model_revision=pinned), variant=EDIT_2509) == [
        HubFiles(HUB_ID, pinned, None, "weights")
    ]
    assert weights_source(Settings(model_weights="tiny"), variant=EDIT_2509) == []
    assert weights_source(Settings(model_weights=str(tiny_weights_dir)), variant=EDIT_2509) == []
    assert weights_source(Settings(model_weights="org/mirror"), variant=EDIT_2509) == [
        HubFiles("org/mirror")
    ]
    with_lora = weights_source(Settings(lightning="8"), variant=EDIT_2509)
    assert with_lora[1] == HubFiles(
        "lightx2v/Qwen-Image-Lightning",
        None,
        ("Qwen-Image-Edit-2509/Qwen-Image-Edit-2509-Lightning-8steps-V1.0-bf16.safetensors",),
        "Lightning LoRA 8-step",
    )
    with pytest.raises(ValueError, match="does not exist"):
        weights_source(Settings(model_weights="./no/such/folder"), variant=EDIT_2509)
