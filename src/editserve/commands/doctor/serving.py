"""What serving needs besides the machine: each configured model's weights (the hub, or a
complete offline cache), whether its memory mode and quantisation fit the GPUs, the
database and the file storage. Model-neutral: the figures come from each model's spec."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from editserve.commands.doctor.checks import Findings
from editserve.commands.doctor.host import check_ram
from editserve.core.devices import DeviceKind
from editserve.core.settings import Settings
from editserve.domain.stages import fmt_bytes
from editserve.hub.plan import COMMIT_RE, HubError, HubUnreachable, cache_state, plan_source
from editserve.hub.sources import HubFiles
from editserve.models.memory import MemoryEstimate, smallest_card
from editserve.models.spec import ModelSpec
from editserve.services.cluster.node import error_reason, redact


def development_weights(settings: Settings, has_gpu: bool) -> bool:
    """Workers here load the tiny development weights (``tiny``, or ``auto`` without a GPU)."""
    value = (settings.model_weights or "auto").strip().lower()
    return value == "tiny" or (value == "auto" and not has_gpu)


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def check_options(found: Findings, spec: ModelSpec, settings: Settings) -> None:
    kind: DeviceKind = "cuda" if found.gpus else "cpu"
    try:
        spec.check_settings(settings, kind)
    except ValueError as exc:
        found.add("fail", f"options ({spec.id})", str(exc), "change the settings it names")
    else:
        found.add("ok", f"options ({spec.id})", f"the speed and memory settings work on {kind}")


def check_weights(
    found: Findings, spec: ModelSpec, settings: Settings, cache_dir: Path, endpoint: str | None
) -> None:
    """Where the weights come from, and whether they are (or can be) here."""
    name = f"weights ({spec.id})"
    if development_weights(settings, bool(found.gpus)):
        found.add(
            "info",
            name,
            "the tiny random development weights (outputs are noise): built locally, "
            "nothing to download",
            "on a GPU host, EDITSERVE_MODEL_WEIGHTS=auto loads the real weights",
        )
        return
    try:
        sources = spec.weights_source(settings)
    except ValueError as exc:
        found.add("fail", name, str(exc), "set EDITSERVE_MODEL_WEIGHTS to a hub id or a folder")
        return
    if not sources:
        found.add("ok", name, f"a local folder: {settings.model_weights}")
    for source in sources:
        check_source(found, f"{source.label} ({spec.id})", source, cache_dir, endpoint)


def check_source(
    found: Findings, name: str, source: HubFiles, cache_dir: Path, endpoint: str | None
) -> None:
    if hub_offline():
        return _offline(found, name, source, cache_dir)
    try:
        plan = plan_source(source, cache_dir=cache_dir, endpoint=endpoint)
    except HubUnreachable as exc:
        state = cache_state(source, cache_dir)
        if state.complete:
            found.add("warn", name, f"{exc}; the cache has it all", "export HF_HUB_OFFLINE=1")
        else:
            found.add(
                "fail",
                name,
                f"{exc}, and the cache does not have it",
                "check the network (or HF_ENDPOINT for a mirror), or copy a Hugging Face "
                "cache that has it and set HF_HUB_OFFLINE=1",
            )
        return
    except HubError as exc:
        found.add("fail", name, str(exc), "fix the repo, revision or HF_TOKEN it names")
        return
    where = f"{source.repo}@{source.ref}" + (
        "" if source.ref == plan.commit else f" = {plan.commit[:12]}"
    )
    pin = (
        ""
        if COMMIT_RE.match(source.ref) or not source.whole_repo
        else (f"; pin it: EDITSERVE_MODEL_REVISION={plan.commit}")
    )
    missing = plan.missing_bytes
    found.missing_bytes += missing
    if missing:
        found.add(
            "warn",
            name,
            f"hub reachable: {where}, {fmt_bytes(plan.total_bytes)}; {fmt_bytes(missing)} not "
            "in the cache yet",
            "editserve pull (else each worker downloads it at start-up, shown as its "
            f"downloading stage){pin}",
        )
    else:
        found.add(
            "ok",
            name,
            f"hub reachable: {where}; all {fmt_bytes(plan.total_bytes)} in the cache{pin}",
        )


def _offline(found: Findings, name: str, source: HubFiles, cache_dir: Path) -> None:
    state = cache_state(source, cache_dir)
    where = f"{source.repo}@{source.ref}"
    if state.complete:
        found.add("ok", name, f"HF_HUB_OFFLINE: {where} = {state.commit} is complete in the cache")
    elif state.complete is None:
        found.add(
            "warn",
            name,
            f"HF_HUB_OFFLINE: {where} is in the cache, but without a file listing to check it",
            "run `editserve pull` once where the hub is reachable",
        )
    else:
        missing = len(state.missing) or "all"
        found.add(
            "fail",
            name,
            f"HF_HUB_OFFLINE is set and the cache lacks {where} ({missing} file(s) missing)",
            "run `editserve pull` where the hub is reachable, or unset HF_HUB_OFFLINE",
        )


def check_memory(found: Findings, spec: ModelSpec, settings: Settings) -> None:
    """Which memory mode and quantisation fit each GPU (the GPU guide's table, computed)."""
    estimates = spec.memory_estimates(settings)
    if not estimates:
        return
    selected = next((e for e in estimates if e.selected_by(settings)), None)
    found.tables[spec.id] = [_row(e, found, settings) for e in estimates]
    name = f"memory ({spec.id})"
    if development_weights(settings, bool(found.gpus)) or not found.gpus:
        least = min(estimates, key=lambda e: e.gpu_bytes)
        wanted = f"{selected.needs()} ({selected.short_label})" if selected else "?"
        found.add(
            "info",
            name,
            f"to serve it on a GPU these settings need {wanted}; the least is "
            f"{fmt_bytes(least.gpu_bytes)} with {least.short_label} (table below)",
        )
        if not development_weights(settings, bool(found.gpus)):
            _cpu_ram(found, spec, settings)
        return
    for gpu in found.gpus:
        _fit(found, name, gpu, selected, estimates)
    if selected is not None:
        check_ram(found, selected.host_bytes, f"{spec.id} with {selected.short_label}")


def _fit(
    found: Findings,
    name: str,
    gpu: Any,
    selected: MemoryEstimate | None,
    estimates: list[MemoryEstimate],
) -> None:
    label = f"{name}, GPU {gpu.index}"
    if selected is not None and selected.fits(gpu.memory, gpu.capability):
        found.add(
            "ok",
            label,
            f"{selected.short_label} needs about {fmt_bytes(selected.gpu_bytes)} of its "
            f"{fmt_bytes(gpu.memory)}",
        )
        return
    best = next((e for e in estimates if e.fits(gpu.memory, gpu.capability)), None)
    needs = f"{selected.short_label} needs {selected.needs()}" if selected else "these settings"
    fix = f"set {best.label}" if best else "no memory mode fits this GPU: use a larger one"
    if best is not None and "offload" in best.label:
        fix += " (and EDITSERVE_LIGHTNING=8: offload modes are slow at 40 steps)"
    found.add("fail", label, f"{needs}; {gpu.describe()}", fix)


def _row(estimate: MemoryEstimate, found: Findings, settings: Settings) -> dict[str, Any]:
    return {
        "settings": dict(estimate.settings),
        "gpu_bytes": estimate.gpu_bytes,
        "host_bytes": estimate.host_bytes,
        "min_capability": ".".join(map(str, estimate.min_capability))
        if estimate.min_capability
        else None,
        "smallest_card": smallest_card(estimate),
        "selected": estimate.selected_by(settings),
        "fits": {f"GPU {g.index}": estimate.fits(g.memory, g.capability) for g in found.gpus},
        "cost": estimate.cost,
    }


def _cpu_ram(found: Findings, spec: ModelSpec, settings: Settings) -> None:
    weights = sum((spec.card.get("memory") or {}).get("weights_bytes", {}).values())
    if not weights:
        return
    fp32 = (settings.dtype or "auto").strip().lower() in ("auto", "fp32", "float32", "float")
    check_ram(
        found,
        int(weights * (2 if fp32 else 1)),
        f"the real {spec.id} weights on the CPU in {'fp32' if fp32 else 'bf16'}",
        blocking=True,
        fix="serve them on a GPU host (EDITSERVE_MODEL_WEIGHTS=tiny for development here)",
    )


def check_database(found: Findings, settings: Settings) -> None:
    from editserve.store.dialect import migrations

    url = settings.resolved_database_url
    kind = "sqlite" if url.startswith("sqlite:") else "postgres"
    latest = max((m.version for m in migrations(kind)), default=0)
    try:
        version, where = _sqlite_version(url) if kind == "sqlite" else _postgres_version(url)
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the finding
        found.add(
            "fail",
            "database",
            f"cannot open {redact(url)}: {error_reason(exc, url)[:200]}",
            "check EDITSERVE_DATABASE_URL and that the database runs and accepts this host",
        )
        return
    if version is None:
        found.add("ok", "database", f"{where}: created at the first start (schema v{latest})")
    elif version < latest:
        found.add("ok", "database", f"{where}: schema v{version}, migrated to v{latest} at start")
    else:
        found.add("ok", "database", f"{where}: reachable, schema v{version}")


def _sqlite_version(url: str) -> tuple[int | None, str]:
    path = Path(url.removeprefix("sqlite:///"))
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), Path("/"))
        if not os.access(parent, os.W_OK):
            raise PermissionError(f"{parent} is not writable")
        return None, f"SQLite {path}"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
        row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return (int(row[0]) if row and row[0] is not None else 0), f"SQLite {path}"


def _postgres_version(url: str) -> tuple[int | None, str]:
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as conn:
        exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
        if not exists or exists[0] is None:
            return None, f"PostgreSQL {redact(url)}"
        row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return (int(row[0]) if row and row[0] is not None else 0), f"PostgreSQL {redact(url)}"


def check_storage(found: Findings, settings: Settings) -> None:
    url = settings.resolved_storage_url
    if url.startswith("file://"):
        folder = Path(url.removeprefix("file://"))
        target = (
            folder
            if folder.exists()
            else next((p for p in folder.parents if p.exists()), Path("/"))
        )
        if os.access(target, os.W_OK):
            verb = "writable" if folder.exists() else "created at the first start"
            found.add("ok", "storage", f"{folder}: {verb}")
        else:
            found.add(
                "fail",
                "storage",
                f"{target} is not writable",
                "fix its permissions or EDITSERVE_STORAGE_URL",
            )
        return
    try:
        from editserve.blobs import open_storage

        open_storage(settings).exists("editserve-doctor-probe")
    except Exception as exc:  # noqa: BLE001 - any failure to reach it is the finding
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        found.add(
            "fail",
            "storage",
            f"cannot reach {url}: {first}",
            "check EDITSERVE_STORAGE_URL, the endpoint and the credentials",
        )
        return
    found.add("ok", "storage", f"{url}: reachable")


__all__ = [
    "check_database",
    "check_memory",
    "check_options",
    "check_source",
    "check_storage",
    "check_weights",
    "development_weights",
]
