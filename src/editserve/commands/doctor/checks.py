"""What a doctor check says: a status, a finding and the fix, in one line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

CheckStatus = Literal["ok", "warn", "fail", "info"]

MARKS: dict[str, str] = {"ok": "✔", "warn": "!", "fail": "✘", "info": "·"}


@dataclass(frozen=True)
class Check:
    status: CheckStatus
    name: str
    finding: str
    fix: str = ""

    def line(self) -> str:
        text = f"{MARKS[self.status]} {self.name}: {self.finding}"
        return f"{text} → {self.fix}" if self.fix else text

    def as_json(self) -> dict[str, str]:
        return {"status": self.status, "name": self.name, "finding": self.finding, "fix": self.fix}


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    memory: int  # bytes, as the driver reports them
    capability: tuple[int, int] | None

    def describe(self) -> str:
        from editserve.domain.stages import fmt_bytes

        text = f"{self.name}, {fmt_bytes(self.memory)}"
        if self.capability is not None:
            text += f", compute capability {self.capability[0]}.{self.capability[1]}"
        return text


@dataclass
class Findings:
    """What the checks found, shared between them (and printed as JSON)."""

    checks: list[Check] = field(default_factory=list)
    gpus: list[Gpu] = field(default_factory=list)
    # bytes each configured model still has to fetch into the Hugging Face cache
    missing_bytes: int = 0
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, status: CheckStatus, name: str, finding: str, fix: str = "") -> None:
        self.checks.append(Check(status, name, finding, fix))

    @property
    def blocking(self) -> bool:
        return any(check.status == "fail" for check in self.checks)


__all__ = ["MARKS", "Check", "CheckStatus", "Findings", "Gpu"]
