"""Model tests need the model stack (torch, diffusers, transformers). Where it is absent —
an API-only node's venv, say — the tests that load a pipeline are skipped, each reported as
skipped with the reason, instead of failing to import."""

from __future__ import annotations

import importlib.util

import pytest

MODEL_STACK = ("torch", "diffusers", "transformers")
MISSING = [name for name in MODEL_STACK if importlib.util.find_spec(name) is None]


def pytest_pycollect_makemodule(module_path, parent):  # type: ignore[no-untyped-def]
    if MISSING:  # a stand-in that reports the module as skipped, without importing it
        return _Skipped.from_parent(parent, path=module_path)
    return None


class _Skipped(pytest.File):
    def collect(self):  # type: ignore[no-untyped-def]
        return [_SkippedItem.from_parent(self, name=self.path.stem)]


class _SkippedItem(pytest.Item):
    def runtest(self) -> None:
        pytest.skip(f"the model stack is not installed here ({', '.join(MISSING)} missing)")

    def reportinfo(self):  # type: ignore[no-untyped-def]
        return self.path, None, self.name
