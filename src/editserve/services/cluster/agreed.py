"""The settings every node of a cluster must agree on, and how a node's values compare
with the ones the cluster recorded.

A request is sized and defaulted by the API node that takes it (output and preview area,
exact-size bounds, the Lightning preset's steps and CFG) and run by whichever worker claims
it (the same areas, the fused Lightning LoRA, step caching). If two nodes differ, the same
request gives a different image depending on where it lands, so these are recorded once
in the cluster record (store/cluster.py) and compared at every start. The other speed and
memory options (memory mode, quantization, attention backend, compile) depend on each
host's GPU and may differ; ``Settings.for_model`` varies only the weights and their
revision per model, so the values below are every served model's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from editserve.core.settings import Settings
from editserve.store.cluster import ClusterFact

AGREED_SETTINGS = (
    "output_area",
    "preview_area",
    "exact_size_min_side",
    "exact_size_max_side",
    "exact_size_max_area",
    "lightning",
    "step_cache",
    "step_cache_threshold",
)
PREFIX = "setting."
ACCEPT_HINT = "run 'editserve migrate --accept-settings' to change the cluster's value"


def env_name(setting: str) -> str:
    return f"EDITSERVE_{setting.upper()}"


def _text(value: object) -> str:
    """One spelling per value: ' 4 ' and '4' agree, as 0.08 and 0.080 do."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value).strip().lower()


def agreed_facts(settings: Settings) -> dict[str, str]:
    """This node's values of the agreed settings, as cluster facts (setting.<name>)."""
    return {PREFIX + name: _text(getattr(settings, name)) for name in AGREED_SETTINGS}


def when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Mismatch:
    """A setting whose value on this node differs from the cluster's."""

    setting: str  # the Settings field, e.g. output_area
    ours: str
    recorded: ClusterFact

    @property
    def env(self) -> str:
        return env_name(self.setting)

    def line(self) -> str:
        return (
            f"setting {self.env} differs from the cluster's: this node {self.ours}, cluster "
            f"{self.recorded.value} (recorded {when(self.recorded.recorded_at)} by node "
            f"{self.recorded.recorded_by})."
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "setting": self.env,
            "node": self.ours,
            "cluster": self.recorded.value,
            "recorded_at": self.recorded.recorded_at,
            "recorded_by": self.recorded.recorded_by,
        }


def compare(ours: Mapping[str, str], facts: Mapping[str, ClusterFact]) -> list[Mismatch]:
    """The agreed settings this node has otherwise than the record (unrecorded ones agree)."""
    found = []
    for name, value in ours.items():
        fact = facts.get(name)
        if name.startswith(PREFIX) and fact is not None and fact.value != value:
            found.append(Mismatch(name.removeprefix(PREFIX), value, fact))
    return found


def refusal(mismatches: list[Mismatch]) -> str:
    """What a node that must not start says: each differing setting, then the way out."""
    if len(mismatches) == 1:
        return f"{mismatches[0].line()} Set it to match, or {ACCEPT_HINT}."
    lines = [mismatch.line() for mismatch in mismatches]
    return "\n".join([*lines, f"Set them to match, or {ACCEPT_HINT}s."])


__all__ = [
    "AGREED_SETTINGS",
    "PREFIX",
    "Mismatch",
    "agreed_facts",
    "compare",
    "env_name",
    "refusal",
    "when",
]
