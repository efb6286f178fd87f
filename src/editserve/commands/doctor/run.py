"""What ``editserve doctor`` runs: every check, in the order they are printed (the checks
themselves are in checks.py, host.py and serving.py), the report for people with each
model's memory table, and the JSON document.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from editserve.commands.doctor.annotators import check_annotators
from editserve.commands.doctor.checks import Check, Findings
from editserve.commands.doctor.host import check_cuda, check_disk, check_ram, check_versions
from editserve.commands.doctor.serving import (
    check_database,
    check_memory,
    check_options,
    check_storage,
    check_weights,
    development_weights,
)
from editserve.core.settings import Settings
from editserve.domain.stages import fmt_bytes
from editserve.hub.cache import default_cache_dir
from editserve.models.memory import render_table
from editserve.models.registry import ModelRegistry, served_registry


def run_checks(
    settings: Settings,
    *,
    registry: ModelRegistry | None = None,
    cache_dir: Path | None = None,
    endpoint: str | None = None,
) -> Findings:
    """Every check, in the order they are printed."""
    registry = registry or served_registry(settings)
    cache_dir = cache_dir or default_cache_dir()
    found = Findings()
    real = (settings.model_weights or "auto").strip().lower() not in ("auto", "tiny")
    check_cuda(found, wants_gpu=real)
    check_versions(found)
    for spec in registry.all():
        own = settings.for_model(spec.id)
        check_options(found, spec, own)
        check_weights(found, spec, own, cache_dir, endpoint)
        check_memory(found, spec, own)
    check_annotators(found, settings, cache_dir)
    if not any(check.name == "host RAM" for check in found.checks):
        check_ram(found, 0, "")
    check_disk(found, "disk (Hugging Face cache)", cache_dir, found.missing_bytes)
    check_disk(found, "disk (data dir)", settings.data_dir.resolve(), 0)
    check_database(found, settings)
    check_storage(found, settings)
    return found


def report(found: Findings, settings: Settings, registry: ModelRegistry | None = None) -> str:
    """The lines for people, then each model's memory table."""
    registry = registry or served_registry(settings)
    lines = [check.line() for check in found.checks]
    for spec in registry.all():
        estimates = spec.memory_estimates(settings)
        if not estimates:
            continue
        lines += ["", f"Ways to run {spec.id} (estimates; the README's GPU guide):", ""]
        lines += _fits_table(found, spec.id) or [render_table(estimates)]
    verdict = (
        "Something blocks serving: fix the ✘ lines."
        if found.blocking
        else "Nothing blocks serving"
        + (
            " (development weights only)"
            if development_weights(settings, bool(found.gpus))
            else "."
        )
    )
    return "\n".join([*lines, "", verdict])


def _fits_table(found: Findings, model: str) -> list[str]:
    """The model's table as aligned text, with a column per GPU found here."""
    rows = found.tables.get(model) or []
    if not rows:
        return []
    gpus = list(rows[0]["fits"])
    lines = [["settings", "GPU peak", "host RAM", "smallest card", *gpus]]
    for row in rows:
        settings = ", ".join(
            f"{name.removeprefix('EDITSERVE_').lower()}={value}"
            for name, value in row["settings"].items()
        )
        cap = f" (cc ≥ {row['min_capability']})" if row["min_capability"] else ""
        selected = " ← these settings" if row["selected"] else ""
        marks = ["fits" if row["fits"][gpu] else "-" for gpu in gpus]
        sizes = [fmt_bytes(row["gpu_bytes"]), fmt_bytes(row["host_bytes"]), row["smallest_card"]]
        lines.append([f"{settings}{cap}{selected}", *sizes, *marks])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]


def as_json(found: Findings) -> dict[str, Any]:
    return {
        "status": "blocked" if found.blocking else "ok",
        "checks": [check.as_json() for check in found.checks],
        "gpus": [
            {"index": g.index, "name": g.name, "memory_bytes": g.memory, "capability": g.capability}
            for g in found.gpus
        ],
        "memory": found.tables,
    }


def run_doctor(settings: Settings, *, as_json_output: bool = False) -> int:
    found = run_checks(settings)
    if as_json_output:
        print(json.dumps(as_json(found), indent=2))
    else:
        print(report(found, settings))
    return 1 if found.blocking else 0


__all__ = ["Check", "Findings", "as_json", "report", "run_checks", "run_doctor"]
