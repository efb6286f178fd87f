"""The settings as the README's Markdown table, generated from ``core.settings.Settings``.

``python -m editserve.core.settings_doc`` prints it; ``--update README.md`` rewrites the table
between the README's markers (tests/unit/test_readme_settings.py checks it is current).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from editserve.core.settings import Settings


def settings_table() -> str:
    """The settings as a Markdown table (the README's copy is checked against this)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        shown = "" if default is None or default in ([], {}) else f"`{default}`"
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `EDITSERVE_{name.upper()}` | {shown} | {meaning} |")
    return "\n".join(rows)


def update_readme(path: Path) -> None:
    """Rewrite the settings table between the README's markers."""
    text = path.read_text()
    table = settings_table()
    updated = re.sub(
        r"(<!-- settings-table:start -->\n).*?(\n<!-- settings-table:end -->)",
        lambda match: match.group(1) + table + match.group(2),
        text,
        flags=re.S,
    )
    path.write_text(updated)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--update"]:  # python -m editserve.core.settings_doc --update README.md
        update_readme(Path(sys.argv[2]))
    else:
        print(settings_table())
