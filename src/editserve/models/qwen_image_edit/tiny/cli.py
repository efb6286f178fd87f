"""The command that builds a tiny twin: ``python -m <family>.tiny OUT_DIR [MODEL]`` of any
family whose members the builder takes (the edit family's ``tiny/__main__.py`` and the
text-to-image family's ``qwen_image/tiny.py`` are this one function)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from editserve.models.qwen_image_edit.tiny.build import ensure_tiny_weights
from editserve.models.qwen_image_edit.variant import QwenVariant


def build_cli(
    argv: list[str] | None, members: Sequence[QwenVariant], family: str, module: str
) -> int:
    """Build the tiny twin of one of `members` (named by its id; default: the first) into
    the folder the arguments name, and print the folder."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2) or args[0] in {"-h", "--help"}:
        print(
            f"usage: python -m {module} OUT_DIR [MODEL]\n"
            f"  MODEL: a {family} family member's id (default: the family's first member)",
            file=sys.stderr,
        )
        return 2
    wanted = args[1].lower() if len(args) == 2 else members[0].model_id
    variant = next((one for one in members if one.model_id == wanted), None)
    if variant is None:
        print(f"{args[1]} is not a model of the {family} family", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(ensure_tiny_weights(Path(args[0]), variant))
    return 0
