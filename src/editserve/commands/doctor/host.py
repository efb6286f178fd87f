"""The machine: CUDA and the GPUs, host RAM, free disk, and the installed versions against
what editserve declares it supports (its own package metadata, not a copied list)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
from pathlib import Path

from editserve.commands.doctor.checks import CheckStatus, Findings, Gpu
from editserve.domain.stages import fmt_bytes
from editserve.hub.cache import free_bytes

# The libraries whose versions decide whether the model loads and runs as tested.
LIBRARIES = ("torch", "diffusers", "transformers", "huggingface_hub", "accelerate", "peft")


def check_cuda(found: Findings, *, wants_gpu: bool) -> None:
    """CUDA visible to torch, the driver, and each GPU's name, memory and capability."""
    smi = _nvidia_smi()
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - a broken install is a finding
        found.add(
            "fail",
            "torch",
            f"cannot import torch: {exc}",
            "./dev setup (or pip install -e '.[gpu]')",
        )
        return
    driver = f", driver {smi[0][1]}" if smi else ""
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        found.add(
            "ok",
            "CUDA",
            f"CUDA {torch.version.cuda} (torch {torch.__version__}){driver}, "
            f"{count} GPU(s) visible",
        )
        for index in range(count):
            props = torch.cuda.get_device_properties(index)
            gpu = Gpu(index, props.name, int(props.total_memory), (props.major, props.minor))
            found.gpus.append(gpu)
            found.add("ok", f"GPU {index}", gpu.describe())
        return
    if smi:
        built = torch.version.cuda or "none (a CPU-only build)"
        found.add(
            "fail",
            "CUDA",
            f"nvidia-smi sees {len(smi)} GPU(s){driver}, but torch {torch.__version__} cannot use "
            f"them (its CUDA: {built})",
            "install the torch build for this driver (pip install torch --index-url "
            "https://download.pytorch.org/whl/cu128, or the CUDA version nvidia-smi shows)",
        )
        return
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    why = f"CUDA_VISIBLE_DEVICES={visible!r}" if visible is not None else "no nvidia-smi, no driver"
    fix = (
        "install the NVIDIA driver (nvidia-smi must list the GPUs) on a GPU host"
        if wants_gpu
        else "fine for development (the tiny random weights run on the CPU); serving the "
        "real model needs a CUDA GPU: see the memory lines below"
    )
    found.add("warn", "CUDA", f"no CUDA GPU visible ({why})", fix)


def _nvidia_smi() -> list[tuple[str, str]]:
    """(name, driver version) of each GPU nvidia-smi lists; empty without a driver."""
    binary = shutil.which("nvidia-smi")
    if binary is None:
        return []
    try:
        out = subprocess.run(
            [binary, "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=15,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    rows = [line.split(",") for line in out.stdout.splitlines() if "," in line]
    return [(row[0].strip(), row[1].strip()) for row in rows]


def host_ram() -> tuple[int, int]:
    """(total, available) bytes of host memory."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    available = total
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except OSError:
        pass
    return total, available


def check_ram(
    found: Findings,
    needed: int,
    why: str,
    *,
    blocking: bool = False,
    fix: str = "add memory, or pick a memory mode that keeps less in host RAM (see the table)",
) -> None:
    """Host memory against what loading (or offloading) the weights needs."""
    total, available = host_ram()
    text = f"{fmt_bytes(total)} total, {fmt_bytes(available)} available"
    if needed and total < needed:
        found.add(
            "fail" if blocking else "warn",
            "host RAM",
            f"{text}; {why} needs about {fmt_bytes(needed)}",
            fix,
        )
    else:
        found.add(
            "ok",
            "host RAM",
            text + (f" (needs about {fmt_bytes(needed)}: {why})" if needed else ""),
        )


def check_disk(found: Findings, name: str, path: Path, needed: int) -> None:
    """Free space where `path` lives against what still has to be written there."""
    free = free_bytes(path)
    text = f"{fmt_bytes(free)} free at {path}"
    if needed > free:
        found.add(
            "fail",
            name,
            f"{text}, but {fmt_bytes(needed)} of weights still have to be downloaded there",
            "free space, or move the cache to a larger disk (export HF_HUB_CACHE=/bigdisk/hf)",
        )
    elif needed:
        found.add("ok", name, f"{text} ({fmt_bytes(needed)} still to download)")
    else:
        found.add("ok", name, text)


def check_versions(found: Findings) -> None:
    """Python and the model libraries against editserve's declared requirements."""
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    try:
        meta = importlib.metadata.metadata("editserve")
        declared = {
            Requirement(r).name.replace("-", "_").lower(): Requirement(r)
            for r in importlib.metadata.requires("editserve") or []
        }
    except importlib.metadata.PackageNotFoundError:
        found.add("warn", "versions", "editserve is not installed as a package", "pip install -e .")
        return
    python = platform.python_version()
    wanted = SpecifierSet((meta.get_all("Requires-Python") or [""])[0])
    status: CheckStatus = "ok" if wanted.contains(python) else "fail"
    found.add(
        status,
        "Python",
        f"{python} (supported: {wanted or 'any'})",
        "" if status == "ok" else f"use Python {wanted}",
    )
    for name in LIBRARIES:
        requirement = declared.get(name.lower())
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found.add("fail", name, "not installed", "./dev setup (pip install -e '.[gpu]')")
            continue
        if requirement is None or not str(requirement.specifier):
            found.add("ok", name, f"{installed}")
        elif requirement.specifier.contains(installed, prereleases=True):
            found.add("ok", name, f"{installed} (supported: {requirement.specifier})")
        else:
            found.add(
                "fail",
                name,
                f"{installed}, but editserve supports {requirement.specifier}",
                f"pip install '{name}{requirement.specifier}'",
            )


__all__ = ["check_cuda", "check_disk", "check_ram", "check_versions", "host_ram"]
