"""What running a model needs, per way of running it: GPU memory, host RAM, GPU generation.

A model folder computes these from its card's memory figures (``ModelSpec.memory_estimates``);
``editserve doctor`` compares them with the GPUs it finds and the README's GPU guide shows the
same table (``python -m editserve.models.memory_doc --update README.md`` writes it). Estimates:
weights from the published files, activations and overheads rounded up. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

from editserve.core.settings import Settings
from editserve.domain.stages import fmt_bytes


@dataclass(frozen=True)
class MemoryEstimate:
    """One way to run a model (the settings that choose it) and what it needs."""

    settings: tuple[tuple[str, str], ...]  # (("EDITSERVE_MEMORY_MODE", "none"), ...)
    gpu_bytes: int  # peak GPU memory at the native size, batch 1
    host_bytes: int  # host RAM
    cost: str
    min_capability: tuple[int, int] | None = None  # e.g. (8, 9): FP8 tensor cores

    @property
    def label(self) -> str:
        return " ".join(f"{name}={value}" for name, value in self.settings)

    @property
    def short_label(self) -> str:
        return ", ".join(
            f"{name.removeprefix('EDITSERVE_').lower()}={value}" for name, value in self.settings
        )

    def selected_by(self, settings: Settings) -> bool:
        """These are the settings in force."""
        for name, value in self.settings:
            current = getattr(settings, name.removeprefix("EDITSERVE_").lower(), None)
            if str(current).strip().lower() != value:
                return False
        return True

    def fits(self, gpu_bytes: int, capability: tuple[int, int] | None) -> bool:
        if self.min_capability is not None and (
            capability is None or capability < self.min_capability
        ):
            return False
        return self.gpu_bytes <= gpu_bytes

    def needs(self) -> str:
        text = f"≥ {fmt_bytes(self.gpu_bytes)} GPU memory"
        if self.min_capability:
            text += f", compute capability ≥ {self.min_capability[0]}.{self.min_capability[1]}"
        return text


# Usable memory of common cards (what the driver reports), by their advertised size, and
# the compute capability of each card named (fp8_dynamic needs 8.9: Ada, Hopper and later).
CARD_CLASSES: tuple[tuple[str, int, tuple[tuple[str, tuple[int, int]], ...]], ...] = (
    ("16 GB", 15_360 * 2**20, (("T4", (7, 5)), ("RTX A4000", (8, 6)))),
    ("24 GB", 24_564 * 2**20, (("RTX 4090", (8, 9)), ("L4", (8, 9)))),
    ("32 GB", 32_607 * 2**20, (("RTX 5090", (12, 0)),)),
    ("40 GB", 40_960 * 2**20, (("A100 40GB", (8, 0)),)),
    ("48 GB", 46_068 * 2**20, (("L40S", (8, 9)), ("A6000", (8, 6)))),
    ("80 GB", 81_559 * 2**20, (("H100", (9, 0)), ("A100 80GB", (8, 0)))),
    ("141 GB", 143_771 * 2**20, (("H200", (9, 0)),)),
)


def smallest_card(estimate: MemoryEstimate) -> str:
    """The smallest common card class whose memory holds the estimate, naming only its cards
    of the generation the estimate needs (``min_capability``)."""
    for size, memory, cards in CARD_CLASSES:
        names = [name for name, capability in cards if estimate.fits(memory, capability)]
        if names:
            return f"{size} ({', '.join(names)})"
    return "none of the common cards"


def render_table(estimates: list[MemoryEstimate]) -> str:
    """The Markdown table of the GPU guide."""
    rows = [
        "| settings | GPU memory at peak | smallest card | host RAM | GPU | cost |",
        "|---|---|---|---|---|---|",
    ]
    for estimate in estimates:
        gpu = (
            f"compute capability ≥ {estimate.min_capability[0]}.{estimate.min_capability[1]}"
            if estimate.min_capability
            else "any CUDA GPU"
        )
        settings = "<br>".join(f"`{name}={value}`" for name, value in estimate.settings)
        rows.append(
            f"| {settings} | {fmt_bytes(estimate.gpu_bytes)} | {smallest_card(estimate)} "
            f"| {fmt_bytes(estimate.host_bytes)} | {gpu} | {estimate.cost} |"
        )
    return "\n".join(rows)
