"""Settings: environment parsing and the limits that protect the workers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from editserve.core.settings import Settings, load_settings


def test_environment_and_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITSERVE_PORT", "9100")
    monkeypatch.setenv("EDITSERVE_FETCH_ALLOW_HOSTS", "10.0.0.0/8, images.internal")
    settings = load_settings(port=None, host="0.0.0.0")
    assert settings.port == 9100  # None overrides are ignored: the environment wins
    assert settings.host == "0.0.0.0"
    assert settings.fetch_allow_hosts == ["10.0.0.0/8", "images.internal"]


@pytest.mark.parametrize("field", ["output_area", "preview_area"])
def test_areas_below_one_tile_are_refused(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: 16 * 16})


def test_child_environment_round_trips() -> None:
    settings = Settings(fetch_allow_hosts=["127.0.0.1"], output_area=4096, workers=2)
    env = settings.for_child_env()
    assert env["EDITSERVE_OUTPUT_AREA"] == "4096"
    assert env["EDITSERVE_FETCH_ALLOW_HOSTS"] == '["127.0.0.1"]'
    assert "EDITSERVE_DATABASE_URL" not in env  # unset stays unset
