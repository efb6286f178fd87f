"""The README's memory tables, generated from every registered model's estimates:
``python -m editserve.models.memory_doc --update README.md`` rewrites them (a test checks
they are current). Nothing imports this module but its test, so it may read the registry."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from editserve.core.settings import Settings
from editserve.models.memory import render_table
from editserve.models.registry import default_registry


def readme_tables(settings: Settings | None = None) -> dict[str, str]:
    """Model id → its table, for every registered model (with default settings)."""
    settings = settings or Settings()
    return {
        spec.id: render_table(spec.memory_estimates(settings))
        for spec in default_registry().all()
        if spec.memory_estimates(settings)
    }


def update_readme(path: Path) -> None:
    """Rewrite each model's table between its ``<!-- memory-table:<model> -->`` markers."""
    text = path.read_text()
    for model, table in readme_tables().items():
        marker = f"<!-- memory-table:{re.escape(model)}"
        pattern = re.compile(rf"({marker}:start -->\n).*?({marker}:end -->)", flags=re.S)
        text = pattern.sub(_filler(table), text)
    path.write_text(text)


def _filler(table: str) -> Callable[[re.Match[str]], str]:
    def fill(match: re.Match[str]) -> str:
        return match.group(1) + table + "\n" + match.group(2)

    return fill


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--update"]:  # python -m editserve.models.memory_doc --update README.md
        update_readme(Path(sys.argv[2]))
    else:
        for model, table in readme_tables().items():
            print(f"{model}\n\n{table}\n")
