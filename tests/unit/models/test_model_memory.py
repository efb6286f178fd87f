"""What each way of running the model needs, computed from its card's figures: which fit
which card, and the README's GPU guide shows exactly this table."""

from __future__ import annotations

import re
from pathlib import Path

from editserve.core.settings import Settings
from editserve.models.memory import render_table, smallest_card
from editserve.models.memory_doc import readme_tables
from editserve.models.registry import default_registry

SPEC = default_registry().default
README = Path(__file__).resolve().parents[3] / "README.md"
MIB = 2**20
H100 = (81_559 * MIB, (9, 0))
A100_80 = (81_920 * MIB, (8, 0))
L40S = (46_068 * MIB, (8, 9))
A6000 = (49_140 * MIB, (8, 6))
RTX_4090 = (24_564 * MIB, (8, 9))


def first_fit(card: tuple[int, tuple[int, int]], settings: Settings | None = None) -> str:
    estimates = SPEC.memory_estimates(settings or Settings())
    return next(e.short_label for e in estimates if e.fits(*card))


def test_the_recommended_settings_per_card_follow_from_the_figures() -> None:
    assert first_fit(H100) == "memory_mode=none, quantization=fp8_dynamic"
    assert first_fit(A100_80) == "memory_mode=none, quantization=none"  # no FP8 cores
    assert first_fit(L40S) == "memory_mode=none, quantization=fp8_dynamic"
    assert first_fit(A6000) == "memory_mode=none, quantization=fp8_weight_only"
    assert first_fit(RTX_4090) == "memory_mode=group_offload, quantization=none"


def test_the_settings_in_force_are_found_and_sized() -> None:
    estimates = SPEC.memory_estimates(Settings())
    [default] = [e for e in estimates if e.selected_by(Settings())]
    assert default.short_label == "memory_mode=none, quantization=none"
    assert 57.7e9 < default.gpu_bytes < 80e9  # every weight on the GPU, plus activations
    assert default.fits(*H100) and not default.fits(*L40S)
    assert smallest_card(default).startswith("80 GB")
    chosen = Settings(memory_mode="group_offload", group_offload_blocks=4, quantization="none")
    [group] = [e for e in SPEC.memory_estimates(chosen) if e.selected_by(chosen)]
    [group_1] = [e for e in estimates if e.short_label.startswith("memory_mode=group")]
    assert group.gpu_bytes > group_1.gpu_bytes  # more blocks per group: more in flight


def test_the_readme_shows_the_computed_table() -> None:
    text = README.read_text()
    for model, table in readme_tables().items():
        marker = f"<!-- memory-table:{re.escape(model)}"
        found = re.search(rf"{marker}:start -->\n(.*?)\n{marker}:end -->", text, flags=re.S)
        assert found, f"README has no memory table for {model}"
        assert found.group(1) == table, (
            "README's memory table is stale: "
            "python -m editserve.models.memory_doc --update README.md"
        )
    assert render_table(SPEC.memory_estimates(Settings())).count("\n") == 1 + 8
