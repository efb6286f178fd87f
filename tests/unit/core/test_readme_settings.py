"""The README's settings table is the one generated from the Settings model."""

from __future__ import annotations

import re
from pathlib import Path

from editserve.core.settings_doc import settings_table

README = Path(__file__).resolve().parents[3] / "README.md"


def readme_table() -> str:
    text = README.read_text()
    match = re.search(
        r"<!-- settings-table:start -->\n(.*?)\n<!-- settings-table:end -->", text, re.S
    )
    assert match, "README lacks the settings-table markers"
    return match.group(1).strip()


def test_readme_settings_table_is_current() -> None:
    assert readme_table() == settings_table(), (
        "README settings table is stale; regenerate it with "
        "`python -m editserve.core.settings_doc --update README.md`"
    )
